package config

import (
	"strconv"
	"time"
)

// AuditConfig is the configuration of the tamper-evident log.
type AuditConfig struct {
	Origin             string
	ClockTolerance     time.Duration
	CheckpointInterval time.Duration
	CheckpointEvents   int64
	SourceSilence      time.Duration
	RetentionYears     int
	VerifyInterval     time.Duration
	ArchiveDir         string        // options_keep.go
	Witness            WitnessConfig // options_keep.go
}

// auditOptions are the settings of the audit log.
var auditOptions = []option{
	{"audit.origin", "ANZEN_AUDIT_ORIGIN", "",
		"Name of this log in its signed checkpoints (C2SP origin line), such as hospital.example.jp/anzen-audit. Empty: anzen/audit/<random>. Fixed at the first checkpoint; changing it later has no effect.",
		"署名付きチェックポイントに記すこのログの名前（C2SP の origin 行。例：hospital.example.jp/anzen-audit）。空欄なら anzen/audit/<ランダム>。最初のチェックポイントで決まり、後から変えても反映されません。",
		func(c *Config, v value) error { return v.str(&c.Audit.Origin, noteName) },
		func(c *Config) string { return c.Audit.Origin }},
	{"audit.clock_tolerance", "ANZEN_AUDIT_CLOCK_TOLERANCE", "2m",
		"An event whose source time differs from anzen's by more than this is flagged as clock skew (anzen policy; the guideline asks for a synchronised clock without a figure).",
		"送信元の時刻と anzen の時刻の差がこれを超えるイベントに「時刻のずれ」の印を付けます（anzen の方針。ガイドラインは時刻同期を求めていますが数値の定めはありません）。",
		func(c *Config, v value) error { return v.dur(&c.Audit.ClockTolerance, time.Second, 24*time.Hour) },
		func(c *Config) string { return c.Audit.ClockTolerance.String() }},
	{"audit.checkpoint_interval", "ANZEN_AUDIT_CHECKPOINT_INTERVAL", "1m",
		"Sign a checkpoint of the log at least this often while new events arrive.",
		"新しいイベントがある間、少なくともこの間隔でログのチェックポイントに署名します。",
		func(c *Config, v value) error { return v.dur(&c.Audit.CheckpointInterval, time.Second, 24*time.Hour) },
		func(c *Config) string { return c.Audit.CheckpointInterval.String() }},
	{"audit.checkpoint_events", "ANZEN_AUDIT_CHECKPOINT_EVENTS", "10000",
		"Also sign a checkpoint as soon as this many events have arrived since the last one.",
		"前回のチェックポイントからこの件数のイベントが届いたときにも、すぐに署名します。",
		func(c *Config, v value) error { return v.int64(&c.Audit.CheckpointEvents, 1, 100000000) },
		func(c *Config) string { return strconv.FormatInt(c.Audit.CheckpointEvents, 10) }},
	{"audit.source_silence", "ANZEN_AUDIT_SOURCE_SILENCE", "1h",
		"A system that has sent no event for this long is shown as silent (a warning on the dashboard).",
		"この時間イベントが届いていない送信元システムを「途絶」としてダッシュボードに警告します。",
		func(c *Config, v value) error { return v.dur(&c.Audit.SourceSilence, time.Minute, 90*24*time.Hour) },
		func(c *Config) string { return c.Audit.SourceSilence.String() }},
	{"audit.retention_years", "ANZEN_AUDIT_RETENTION_YEARS", "5",
		"Keep events in the database this many years (anzen policy, after the 5 years of clinical records under 医師法 art. 24; the guideline gives no figure); older ones are archived to signed segment files first.",
		"イベントをデータベースに保存する年数（anzen の方針。診療録の保存期間 5 年（医師法第 24 条）にならっています。ガイドラインに数値の定めはありません）。これより古いものは、署名付きのセグメントファイルに書き出してから削除します。",
		func(c *Config, v value) error { return v.int(&c.Audit.RetentionYears, 1, 100) },
		func(c *Config) string { return strconv.Itoa(c.Audit.RetentionYears) }},
	{"audit.verify_interval", "ANZEN_AUDIT_VERIFY_INTERVAL", "24h",
		"Verify the whole log in the background this often; the result is on the dashboard and is compliance evidence.",
		"この間隔でログ全体の検証をバックグラウンドで行います。結果はダッシュボードに表示され、遵守状況の証跡になります。",
		func(c *Config, v value) error { return v.dur(&c.Audit.VerifyInterval, time.Minute, 30*24*time.Hour) },
		func(c *Config) string { return c.Audit.VerifyInterval.String() }},
}
