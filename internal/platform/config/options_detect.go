package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// DetectConfig is the configuration of log analysis.
type DetectConfig struct {
	// Rules are the hospital's rule files and folders, run besides the
	// built-in packs.
	Rules []string
	// Where alerts are sent, from which level.
	NotifyMail              []string
	NotifyWebhooks          []string
	NotifyWebhookSecretFile string
	NotifyMinLevel          string
	NotifySyslog            []string
	NotifySyslogCAFile      string
	// Behaviour baselines: whether they run, the active days a user's own
	// baseline needs, the days they learn from, and how readily they alert.
	BaselineEnabled     bool
	BaselineWarmupDays  int
	BaselineHistoryDays int
	BaselineSensitivity string
	// NotifyRouteList are the routes by level and tag (NotifyRoutes);
	// NotifyOnCall receive critical alerts until an on-call roster does.
	NotifyRouteList []string
	NotifyOnCall    []string
}

// detectOptions are the settings of log analysis.
var detectOptions = []option{
	{"detect.rules", "ANZEN_DETECT_RULES", "",
		"The hospital's Sigma rule files and folders, run over the audit log besides the built-in medical pack (a list; folders are read for *.yml and *.yaml). A file that cannot be run is left out and named in the log at start; check files first with anzen detect check. Empty: the built-in pack only.",
		"組み込みの医療向けルールパックに加えて監査ログに実行する、病院の Sigma ルールのファイルとフォルダー（リスト。フォルダーは *.yml と *.yaml を読みます）。実行できないファイルは除き、起動時のログに名前と理由を出します。事前に anzen detect check で確かめてください。空欄なら組み込みのパックだけです。",
		func(c *Config, v value) error { return v.list(&c.Detect.Rules, rulePath) },
		func(c *Config) string { return strings.Join(c.Detect.Rules, ",") }},
	{"detect.notify.min_level", "ANZEN_DETECT_NOTIFY_MIN_LEVEL", "high",
		"Alerts of this level and above are sent to detect.notify.mail and detect.notify.webhooks: informational, low, medium, high or critical.",
		"このレベル以上の警告を detect.notify.mail と detect.notify.webhooks に送ります（informational、low、medium、high、critical）。",
		func(c *Config, v value) error { return v.str(&c.Detect.NotifyMinLevel, alertLevel) },
		func(c *Config) string { return c.Detect.NotifyMinLevel }},
	{"detect.notify.mail", "ANZEN_DETECT_NOTIFY_MAIL", "",
		"Mail addresses (the CSIRT's, the on-call person's) that receive alerts, in Japanese and English, with a link to review them. Needs the mail.* settings. Empty: none.",
		"警告を受け取るメールアドレス（CSIRT、当番の担当者など）。日本語と英語で、確認のためのリンクを付けて送ります。mail.* の設定が必要です。空欄なら送りません。",
		func(c *Config, v value) error { return v.list(&c.Detect.NotifyMail, mailAddress) },
		func(c *Config) string { return strings.Join(c.Detect.NotifyMail, ",") }},
	{"detect.notify.webhooks", "ANZEN_DETECT_NOTIFY_WEBHOOKS", "",
		"URLs that receive each alert as JSON (POST; retried for a day when they fail). Empty: none.",
		"警告を JSON で受け取る URL（POST。失敗したら 1 日の間再送します）。空欄なら送りません。",
		func(c *Config, v value) error { return v.list(&c.Detect.NotifyWebhooks, webhookURL) },
		func(c *Config) string { return strings.Join(c.Detect.NotifyWebhooks, ",") }},
	{"detect.notify.syslog", "ANZEN_DETECT_NOTIFY_SYSLOG", "",
		"SIEMs that receive each alert as an RFC 5424 syslog message: udp://host:port, tcp://host:port (octet counting) or tls://host:port (RFC 5425, the SIEM's certificate verified). Empty: none.",
		"警告を RFC 5424 の syslog メッセージで受け取る SIEM：udp://ホスト:ポート、tcp://ホスト:ポート（オクテットカウント）または tls://ホスト:ポート（RFC 5425。SIEM の証明書を検証します）。空欄なら送りません。",
		func(c *Config, v value) error { return v.list(&c.Detect.NotifySyslog, syslogTarget) },
		func(c *Config) string { return strings.Join(c.Detect.NotifySyslog, ",") }},
	{"detect.notify.syslog_ca_file", "ANZEN_DETECT_NOTIFY_SYSLOG_CA_FILE", "",
		"PEM file of the CA certificates that sign the certificates of the tls:// SIEMs in detect.notify.syslog. Empty: the system's trusted CAs.",
		"detect.notify.syslog の tls:// の SIEM の証明書を発行した CA の証明書（PEM ファイル）。空欄ならシステムが信頼する CA を使います。",
		func(c *Config, v value) error { return v.str(&c.Detect.NotifySyslogCAFile, nil) },
		func(c *Config) string { return c.Detect.NotifySyslogCAFile }},
	{"detect.notify.routes", "ANZEN_DETECT_NOTIFY_ROUTES", "",
		"Routes of alerts by level and tag, besides the default route of detect.notify.mail, detect.notify.webhooks and detect.notify.syslog (a list, one route per entry): min_level=LEVEL; tags=TAG TAG...; to=ADDRESS-OR-URL ... — alerts of at least LEVEL whose rule has any of the tags (Sigma tags such as attack.t1078; medical.* for a prefix; no tags: every alert of the level) go to the mail addresses and webhook URLs of to=. Example: min_level=medium; tags=medical.*; to=privacy@hospital.example.jp. Empty: none.",
		"レベルとタグによる警告の送り先（既定の送り先 detect.notify.mail、detect.notify.webhooks、detect.notify.syslog に加えて。リストで 1 項目に 1 経路）：min_level=レベル; tags=タグ タグ...; to=宛先 ... と書きます。指定レベル以上で、ルールにいずれかのタグ（attack.t1078 などの Sigma タグ。medical.* で前方一致。省略するとそのレベルのすべての警告）がある警告を、to= のメールアドレスと Webhook URL に送ります。例：min_level=medium; tags=medical.*; to=privacy@hospital.example.jp。空欄なら使いません。",
		func(c *Config, v value) error { return v.list(&c.Detect.NotifyRouteList, notifyRoute) },
		func(c *Config) string { return strings.Join(c.Detect.NotifyRouteList, ",") }},
	{"detect.notify.oncall", "ANZEN_DETECT_NOTIFY_ONCALL", "",
		"Mail addresses (a duty desk, the on-call phone's mail gateway) that receive every critical alert, whatever the other routes say, when no one on the on-call roster (/incident/org) is on call, and the incident part's reminders when its roster has no CSIRT member with a mail address. Needs the mail.* settings. Empty: then the whole CSIRT of the roster.",
		"当番表（/incident/org）に当番の人がいない時間に、重大（critical）の警告をすべて受け取るメールアドレス（当直の窓口、当番携帯のメール転送先など）。当番表にメールアドレスのある CSIRT メンバーがいないときは、インシデントの期限の通知もここへ送ります。mail.* の設定が必要です。空欄のときは当番表の CSIRT 全員に送ります。",
		func(c *Config, v value) error { return v.list(&c.Detect.NotifyOnCall, mailAddress) },
		func(c *Config) string { return strings.Join(c.Detect.NotifyOnCall, ",") }},
	{"detect.notify.webhook_secret_file", "ANZEN_DETECT_NOTIFY_SECRET_FILE", "",
		"File holding a shared secret (at least 16 characters); when set, each alert webhook carries its HMAC-SHA256 in the header Anzen-Signature, as the audit log's witnesses do.",
		"共有の秘密（16 文字以上）を書いたファイル。設定すると、警告の Webhook に HMAC-SHA256 の署名（ヘッダー Anzen-Signature。監査ログの外部送付と同じ方式）を付けます。",
		func(c *Config, v value) error { return v.str(&c.Detect.NotifyWebhookSecretFile, nil) },
		func(c *Config) string { return c.Detect.NotifyWebhookSecretFile }},
	{"detect.baseline.enabled", "ANZEN_DETECT_BASELINE_ENABLED", "true",
		"Learn each user's usual day from the audit log (patients opened, activity, prints and exports, patients outside their department, hours) and raise an alert, with a plain-language explanation, when a day goes beyond it. See docs/detect.md.",
		"監査ログから職員ごとの通常の 1 日（記録を開いた患者の数、操作の数、印刷・エクスポート、所属部署以外の患者、時間帯）を学び、それを超えた日に分かりやすい説明付きの警告を出します。docs/detect.md を参照してください。",
		func(c *Config, v value) error { return v.bool(&c.Detect.BaselineEnabled) },
		func(c *Config) string { return strconv.FormatBool(c.Detect.BaselineEnabled) }},
	{"detect.baseline.warmup_days", "ANZEN_DETECT_BASELINE_WARMUP_DAYS", "14",
		"Active days of history a user needs before their own baseline is used (1–90); until then they are compared with the users of the same profession in the facility, and not at all when there are fewer than 3.",
		"職員本人のベースラインを使うまでに必要な、操作のあった日数（1〜90）。それまでは同じ施設の同じ職種の職員と比べ、その職員が 3 人未満なら判定しません。",
		func(c *Config, v value) error { return v.int(&c.Detect.BaselineWarmupDays, 1, 90) },
		func(c *Config) string { return strconv.Itoa(c.Detect.BaselineWarmupDays) }},
	{"detect.baseline.history_days", "ANZEN_DETECT_BASELINE_HISTORY_DAYS", "28",
		"How many days before today the baselines learn from (7–365); at least detect.baseline.warmup_days.",
		"ベースラインが学ぶ、前日までの日数（7〜365）。detect.baseline.warmup_days 以上にしてください。",
		func(c *Config, v value) error { return v.int(&c.Detect.BaselineHistoryDays, 7, 365) },
		func(c *Config) string { return strconv.Itoa(c.Detect.BaselineHistoryDays) }},
	{"detect.baseline.sensitivity", "ANZEN_DETECT_BASELINE_SENSITIVITY", "normal",
		"How readily the baselines raise alerts: low (fewer alerts, only far beyond the usual), normal or high.",
		"ベースラインが警告を出す感度：low（通常から大きく外れたときだけ。警告が少ない）、normal、high。",
		func(c *Config, v value) error { return v.str(&c.Detect.BaselineSensitivity, baselineSensitivity) },
		func(c *Config) string { return c.Detect.BaselineSensitivity }},
}

// baselineSensitivity checks detect.baseline.sensitivity.
func baselineSensitivity(s string) error {
	switch s {
	case "low", "normal", "high":
		return nil
	}
	return errors.New("use low, normal or high")
}

// validateBaseline checks the baseline settings that go together.
func (c *Config) validateBaseline() error {
	if c.Detect.BaselineHistoryDays < c.Detect.BaselineWarmupDays {
		return fmt.Errorf("detect.baseline.history_days: %d days of history cannot hold %d warm-up days (detect.baseline.warmup_days); raise the one or lower the other",
			c.Detect.BaselineHistoryDays, c.Detect.BaselineWarmupDays)
	}
	return nil
}

// alertLevel checks detect.notify.min_level.
func alertLevel(s string) error {
	switch s {
	case "informational", "low", "medium", "high", "critical":
		return nil
	}
	return errors.New("use informational, low, medium, high or critical")
}

// rulePath checks one entry of detect.rules.
func rulePath(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("an empty path")
	}
	return nil
}

// syslogTarget checks one entry of detect.notify.syslog.
func syslogTarget(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "udp" && u.Scheme != "tcp" && u.Scheme != "tls") || u.Port() == "" || u.Hostname() == "" || u.Path != "" {
		return errors.New("use udp://host:port, tcp://host:port or tls://host:port")
	}
	return nil
}
