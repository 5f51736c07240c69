package config

import (
	"strconv"
	"time"
)

// MailConfig is how anzen sends mail: its SMTP server (the hospital's mail
// relay) and its sender address.
type MailConfig struct {
	From         string
	Host         string
	Port         int
	TLS          string
	User         string
	PasswordFile string
	CAFile       string
	Timeout      time.Duration
}

// mailOptions are the settings of anzen's outgoing mail.
var mailOptions = []option{
	{"mail.from", "ANZEN_MAIL_FROM", "",
		"Sender address of anzen's mail, such as anzen@hospital.example.jp.",
		"anzen が送るメールの送信者アドレス（例：anzen@hospital.example.jp）。",
		func(c *Config, v value) error {
			return v.str(&c.Mail.From, func(s string) error {
				if s == "" {
					return nil
				}
				return mailAddress(s)
			})
		},
		func(c *Config) string { return c.Mail.From }},
	{"mail.smtp.host", "ANZEN_SMTP_HOST", "",
		"SMTP server anzen sends mail through (the hospital's mail relay). Empty: anzen sends no mail.",
		"anzen がメールを送る SMTP サーバー（院内のメール中継サーバー）。空欄ならメールを送りません。",
		func(c *Config, v value) error { return v.str(&c.Mail.Host, nil) },
		func(c *Config) string { return c.Mail.Host }},
	{"mail.smtp.port", "ANZEN_SMTP_PORT", "587",
		"Port of the SMTP server: usually 587 with starttls, 465 with tls, 25 with none.",
		"SMTP サーバーのポート。通常 starttls なら 587、tls なら 465、none なら 25 です。",
		func(c *Config, v value) error { return v.int(&c.Mail.Port, 1, 65535) },
		func(c *Config) string { return strconv.Itoa(c.Mail.Port) }},
	{"mail.smtp.tls", "ANZEN_SMTP_TLS", "starttls",
		"Encryption to the SMTP server: starttls (required, not merely tried), tls (TLS from the first byte) or none (only for a relay on the same machine or a closed network).",
		"SMTP サーバーとの通信の暗号化。starttls（必須。使えなければ送りません）、tls（接続直後から TLS）、none（同じサーバー上または閉じたネットワーク内の中継サーバーに限って使ってください）。",
		func(c *Config, v value) error { return v.str(&c.Mail.TLS, oneOf("starttls", "tls", "none")) },
		func(c *Config) string { return c.Mail.TLS }},
	{"mail.smtp.user", "ANZEN_SMTP_USER", "",
		"Login at the SMTP server. Empty: send without logging in.",
		"SMTP サーバーのログイン名。空欄ならログインせずに送ります。",
		func(c *Config, v value) error { return v.str(&c.Mail.User, nil) },
		func(c *Config) string { return c.Mail.User }},
	{"mail.smtp.password_file", "ANZEN_SMTP_PASSWORD_FILE", "",
		"File holding the SMTP password (or give it in ANZEN_SMTP_PASSWORD). The password itself is never a setting.",
		"SMTP のパスワードを書いたファイル（環境変数 ANZEN_SMTP_PASSWORD でも可）。パスワードそのものは設定項目にしません。",
		func(c *Config, v value) error { return v.str(&c.Mail.PasswordFile, nil) },
		func(c *Config) string { return c.Mail.PasswordFile }},
	{"mail.smtp.ca_file", "ANZEN_SMTP_CA_FILE", "",
		"PEM file of the CA certificates that the SMTP server's certificate is checked against (a hospital's own CA). Empty: the system's.",
		"SMTP サーバーの証明書を確認するための CA 証明書（PEM 形式。院内 CA など）。空欄ならシステムの CA を使います。",
		func(c *Config, v value) error { return v.str(&c.Mail.CAFile, nil) },
		func(c *Config) string { return c.Mail.CAFile }},
	{"mail.smtp.timeout", "ANZEN_SMTP_TIMEOUT", "30s",
		"Give up on the SMTP server after this long; the mail is tried again later.",
		"SMTP サーバーの応答をこの時間まで待ちます。送れなかったメールは後で再送します。",
		func(c *Config, v value) error { return v.dur(&c.Mail.Timeout, time.Second, 5*time.Minute) },
		func(c *Config) string { return c.Mail.Timeout.String() }},
}
