package config

import "time"

// IncidentConfig is how the incident part prints and reminds.
type IncidentConfig struct {
	Chromium       string
	ReminderBefore time.Duration
}

// incidentOptions are the settings of incident response and of PDF output.
var incidentOptions = []option{
	{"pdf.chromium", "ANZEN_PDF_CHROMIUM", "",
		"Chromium binary that renders reports, the contact diagram and the BCP as PDF (Debian's chromium). Empty: chromium on PATH; without one, pages offer their print view only.",
		"報告書・連絡体制図・BCP を PDF にする Chromium の実行ファイル（Debian の chromium）。空欄なら PATH 上の chromium を使います。見つからないときは、画面の印刷用表示だけを使えます。",
		func(c *Config, v value) error { return v.str(&c.Incident.Chromium, nil) },
		func(c *Config) string { return c.Incident.Chromium }},
	{"incident.reminder_before", "ANZEN_INCIDENT_REMINDER_BEFORE", "24h",
		"Mail the owner this long before a report to the authorities or an incident task is due (and again when it is overdue).",
		"当局への報告やインシデントのタスクの期限のこの時間前に、担当者へメールで知らせます（期限を過ぎたときにも知らせます）。",
		func(c *Config, v value) error { return v.dur(&c.Incident.ReminderBefore, time.Hour, 7*24*time.Hour) },
		func(c *Config) string { return c.Incident.ReminderBefore.String() }},
}
