package config

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// WitnessConfig says where the audit log's signed checkpoints are sent, so
// that a copy lives outside anzen's database.
type WitnessConfig struct {
	Webhooks          []string
	WebhookSecretFile string
	WebhookInterval   time.Duration
	Mail              []string
	MailInterval      time.Duration
}

// keepOptions are the settings of the audit log's archive and witnesses.
var keepOptions = []option{
	{"audit.archive_dir", "ANZEN_AUDIT_ARCHIVE_DIR", "",
		"Directory the signed segment files of events past retention are written to. Empty: audit-archive in the data directory. Back it up and keep a copy offline: once archived, those events are only there.",
		"保存期間を過ぎたイベントを書き出す署名付きセグメントファイルの置き場所。空欄ならデータディレクトリ内の audit-archive。アーカイブ後のイベントはここにしかないため、バックアップを取り、オフラインにも複製を保管してください。",
		func(c *Config, v value) error { return v.str(&c.Audit.ArchiveDir, nil) },
		func(c *Config) string { return c.Audit.ArchiveDir }},
	{"audit.witness.webhooks", "ANZEN_AUDIT_WITNESS_WEBHOOKS", "",
		"URLs that receive the latest signed checkpoint (POST, text/plain, the C2SP signed note) so that a copy lives outside anzen. Empty: none.",
		"最新の署名付きチェックポイント（C2SP 署名付きノート）を POST（text/plain）で送る URL。anzen の外に写しを残すためのものです。空欄なら送りません。",
		func(c *Config, v value) error { return v.list(&c.Audit.Witness.Webhooks, webhookURL) },
		func(c *Config) string { return strings.Join(redactURLs(c.Audit.Witness.Webhooks), ",") }},
	{"audit.witness.webhook_secret_file", "ANZEN_AUDIT_WITNESS_SECRET_FILE", "",
		"File holding a shared secret; when set, each webhook request carries an HMAC-SHA256 of its time and body (header Anzen-Signature), so the receiver can tell it comes from anzen. The secret itself is never a setting.",
		"共有シークレットを書いたファイル。指定すると、Webhook の各リクエストに時刻と本文の HMAC-SHA256（ヘッダー Anzen-Signature）を付け、受信側が anzen からの送信であることを確かめられます。シークレットそのものは設定項目にしません。",
		func(c *Config, v value) error { return v.str(&c.Audit.Witness.WebhookSecretFile, nil) },
		func(c *Config) string { return c.Audit.Witness.WebhookSecretFile }},
	{"audit.witness.webhook_interval", "ANZEN_AUDIT_WITNESS_WEBHOOK_INTERVAL", "1h",
		"Send the latest checkpoint to the webhooks this often, when the log has grown since the last one sent.",
		"この間隔で、前回から増えていれば最新のチェックポイントを Webhook に送ります。",
		func(c *Config, v value) error {
			return v.dur(&c.Audit.Witness.WebhookInterval, time.Minute, 7*24*time.Hour)
		},
		func(c *Config) string { return c.Audit.Witness.WebhookInterval.String() }},
	{"audit.witness.mail", "ANZEN_AUDIT_WITNESS_MAIL", "",
		"Mail addresses (an inspector, another hospital, a mailbox outside the hospital's IT) that receive the latest checkpoint with instructions in Japanese and English. Needs the mail.* settings. Empty: none.",
		"最新のチェックポイントを、保管と確認の方法（日本語・英語）を添えてメールで送る宛先（監査担当、他の医療機関、情報システム部門の管理外のメールボックスなど）。mail.* の設定が必要です。空欄なら送りません。",
		func(c *Config, v value) error { return v.list(&c.Audit.Witness.Mail, mailAddress) },
		func(c *Config) string { return strings.Join(c.Audit.Witness.Mail, ",") }},
	{"audit.witness.mail_interval", "ANZEN_AUDIT_WITNESS_MAIL_INTERVAL", "24h",
		"Mail the latest checkpoint this often, when the log has grown since the last one sent (a mail a day is plenty for a person who keeps them).",
		"この間隔で、前回から増えていれば最新のチェックポイントをメールで送ります（保管する人にとっては 1 日 1 通で十分です）。",
		func(c *Config, v value) error {
			return v.dur(&c.Audit.Witness.MailInterval, time.Hour, 31*24*time.Hour)
		},
		func(c *Config) string { return c.Audit.Witness.MailInterval.String() }},
}

// AuditArchiveDir returns the archive directory: audit.archive_dir, or
// audit-archive in the data directory.
func (c *Config) AuditArchiveDir() string {
	if c.Audit.ArchiveDir != "" {
		return c.Audit.ArchiveDir
	}
	return filepath.Join(c.DataDir, "audit-archive")
}

// validateKeep checks the witness and mail settings that go together.
func (c *Config) validateKeep() error {
	if len(c.Audit.Witness.Mail) > 0 && c.Mail.Host == "" {
		return errors.New("audit.witness.mail: set mail.smtp.host (and mail.from) to send mail, or leave audit.witness.mail empty")
	}
	if len(c.Detect.NotifyMail) > 0 && c.Mail.Host == "" {
		return errors.New("detect.notify.mail: set mail.smtp.host (and mail.from) to send mail, or leave detect.notify.mail empty")
	}
	if err := c.validateDetectRoutes(); err != nil { // options_detect_routes.go
		return err
	}
	if c.Mail.Host != "" && c.Mail.From == "" {
		return errors.New("mail.from: set the sender address of anzen's mail when mail.smtp.host is set")
	}
	if c.Mail.User != "" && c.Mail.TLS == "none" {
		return errors.New("mail.smtp.tls: with mail.smtp.user the password would travel in the clear; use starttls or tls")
	}
	if c.Mail.PasswordFile != "" && c.Mail.User == "" {
		return errors.New("mail.smtp.user: set the login that goes with mail.smtp.password_file")
	}
	return nil
}

// webhookURL checks a witness URL: http or https, a host, and no user or
// password in it (the HMAC secret file authenticates anzen).
func webhookURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("expected an http:// or https:// URL, got %q", RedactURL(s))
	}
	if u.User != nil {
		return fmt.Errorf("%q: put no user or password in the URL; use audit.witness.webhook_secret_file", RedactURL(s))
	}
	return nil
}

// RedactURL returns u without its user, password and query, which may
// carry secrets, for logs and records.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unreadable URL)"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	u.Fragment = ""
	return u.String()
}

func redactURLs(us []string) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = RedactURL(u)
	}
	return out
}

// mailAddress checks one plain mail address (no display name).
func mailAddress(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		return fmt.Errorf("expected a mail address such as security@hospital.example.jp, got %q", s)
	}
	return nil
}
