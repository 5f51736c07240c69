package config

import (
	"errors"
	"strconv"
)

// SyslogConfig is the configuration of the syslog listeners, through which
// other systems send their access logs (docs/ingest.md).
type SyslogConfig struct {
	UDP, TCP, TLS     string // listen addresses; empty leaves the listener off
	TLSCert, TLSKey   string
	ClientCA          string
	RequireClientCert bool
	Framing           string
	Mapping           string
	Facility          string // a facility's id or code
	MaxMessage        int
}

// Any reports whether a syslog listener is configured.
func (s SyslogConfig) Any() bool { return s.UDP != "" || s.TCP != "" || s.TLS != "" }

// syslogMaxMessage is the largest syslog message anzen keeps: the audit
// log's limit of an original record (audit.MaxOriginal, which this package
// may not import; a test in internal/app keeps the two equal).
const syslogMaxMessage = 64 << 10

// ingestOptions are the settings of log ingestion: the syslog listeners.
var ingestOptions = []option{
	{"ingest.syslog.udp", "ANZEN_SYSLOG_UDP", "",
		"Address and port of the syslog listener over UDP (RFC 5426), such as 0.0.0.0:514. Empty: off.",
		"UDP（RFC 5426）で syslog を受け付けるアドレスとポート（例：0.0.0.0:514）。空欄なら受け付けません。",
		func(c *Config, v value) error { return v.str(&c.Syslog.UDP, optionalHostPort) },
		func(c *Config) string { return c.Syslog.UDP }},
	{"ingest.syslog.tcp", "ANZEN_SYSLOG_TCP", "",
		"Address and port of the syslog listener over TCP (RFC 6587), such as 0.0.0.0:514. Empty: off.",
		"TCP（RFC 6587）で syslog を受け付けるアドレスとポート（例：0.0.0.0:514）。空欄なら受け付けません。",
		func(c *Config, v value) error { return v.str(&c.Syslog.TCP, optionalHostPort) },
		func(c *Config) string { return c.Syslog.TCP }},
	{"ingest.syslog.tls", "ANZEN_SYSLOG_TLS", "",
		"Address and port of the syslog listener over TLS (RFC 5425), such as 0.0.0.0:6514; needs tls_cert and tls_key. Empty: off.",
		"TLS（RFC 5425）で syslog を受け付けるアドレスとポート（例：0.0.0.0:6514）。tls_cert と tls_key が必要です。空欄なら受け付けません。",
		func(c *Config, v value) error { return v.str(&c.Syslog.TLS, optionalHostPort) },
		func(c *Config) string { return c.Syslog.TLS }},
	{"ingest.syslog.tls_cert", "ANZEN_SYSLOG_TLS_CERT", "",
		"PEM certificate (chain) of the syslog TLS listener.",
		"syslog の TLS 受信に使う証明書（チェーン）の PEM ファイル。",
		func(c *Config, v value) error { return v.str(&c.Syslog.TLSCert, nil) },
		func(c *Config) string { return c.Syslog.TLSCert }},
	{"ingest.syslog.tls_key", "ANZEN_SYSLOG_TLS_KEY", "",
		"PEM private key of ingest.syslog.tls_cert.",
		"ingest.syslog.tls_cert の秘密鍵（PEM 形式）。",
		func(c *Config, v value) error { return v.str(&c.Syslog.TLSKey, nil) },
		func(c *Config) string { return c.Syslog.TLSKey }},
	{"ingest.syslog.client_ca", "ANZEN_SYSLOG_CLIENT_CA", "",
		"PEM file of the CAs whose client certificates the TLS listener accepts (mutual TLS, as IHE ATNA asks). Empty: clients are not asked for one.",
		"TLS 受信で受け入れるクライアント証明書の発行元 CA（PEM ファイル）。相互 TLS（IHE ATNA が求める方式）に使います。空欄ならクライアント証明書を求めません。",
		func(c *Config, v value) error { return v.str(&c.Syslog.ClientCA, nil) },
		func(c *Config) string { return c.Syslog.ClientCA }},
	{"ingest.syslog.require_client_cert", "ANZEN_SYSLOG_REQUIRE_CLIENT_CERT", "false",
		"Refuse TLS clients without a certificate of ingest.syslog.client_ca. false: a certificate is checked when a client sends one.",
		"ingest.syslog.client_ca の CA が発行した証明書を持たない TLS クライアントを拒否します。false なら、証明書が送られたときだけ検証します。",
		func(c *Config, v value) error { return v.bool(&c.Syslog.RequireClientCert) },
		func(c *Config) string { return strconv.FormatBool(c.Syslog.RequireClientCert) }},
	{"ingest.syslog.framing", "ANZEN_SYSLOG_FRAMING", "auto",
		"Framing of syslog over TCP and TLS: auto (decided per connection by its first byte), octet-counting (RFC 6587 3.4.1, RFC 5425) or non-transparent (one message per line).",
		"TCP と TLS での syslog の区切り方。auto（接続ごとに最初のバイトで判定）、octet-counting（RFC 6587 3.4.1、RFC 5425）、non-transparent（1 行に 1 メッセージ）。",
		func(c *Config, v value) error {
			return v.str(&c.Syslog.Framing, oneOf("auto", "octet-counting", "non-transparent"))
		},
		func(c *Config) string { return c.Syslog.Framing }},
	{"ingest.syslog.map", "ANZEN_SYSLOG_MAP", "",
		"Mapping file (TOML) from the senders' messages to audit events. Empty: the built-in mapping (the JSON wire form's names and common key=value names).",
		"送信元のメッセージを監査イベントに対応付けるファイル（TOML）。空欄なら組み込みの対応表（JSON 形式の項目名と、よく使われる key=value の名前）を使います。",
		func(c *Config, v value) error { return v.str(&c.Syslog.Mapping, nil) },
		func(c *Config) string { return c.Syslog.Mapping }},
	{"ingest.syslog.facility", "ANZEN_SYSLOG_FACILITY", "",
		"The facility (施設) the received events belong to: its id or code. Empty: the only facility, when there is one.",
		"受け付けたイベントが属する施設（ID またはコード）。空欄の場合、施設が 1 つだけならその施設です。",
		func(c *Config, v value) error { return v.str(&c.Syslog.Facility, nil) },
		func(c *Config) string { return c.Syslog.Facility }},
	{"ingest.syslog.max_message", "ANZEN_SYSLOG_MAX_MESSAGE", strconv.Itoa(syslogMaxMessage),
		"Longest syslog message accepted, in bytes: at least 32768 (DICOM PS3.15 A.6), at most 65536 (the audit log's limit of a record). Longer ones are counted as rejected.",
		"受け付ける syslog メッセージの最大バイト数。32768 以上（DICOM PS3.15 A.6）、65536（監査ログに保存できる記録の上限）以下。これより長いものは拒否として数えます。",
		func(c *Config, v value) error { return v.int(&c.Syslog.MaxMessage, 32<<10, syslogMaxMessage) },
		func(c *Config) string { return strconv.Itoa(c.Syslog.MaxMessage) }},
}

// validateSyslog checks the syslog settings that go together.
func (c *Config) validateSyslog() error {
	s := c.Syslog
	switch {
	case s.TLS != "" && (s.TLSCert == "" || s.TLSKey == ""):
		return errors.New("ingest.syslog.tls_cert and ingest.syslog.tls_key: the TLS listener (ingest.syslog.tls) needs both")
	case (s.TLSCert == "") != (s.TLSKey == ""):
		return errors.New("ingest.syslog.tls_cert and ingest.syslog.tls_key: set both, or neither")
	case s.TLS == "" && (s.TLSCert != "" || s.ClientCA != "" || s.RequireClientCert):
		return errors.New("ingest.syslog.tls: the TLS settings of syslog (tls_cert, client_ca, require_client_cert) need the TLS listener's address")
	case s.RequireClientCert && s.ClientCA == "":
		return errors.New("ingest.syslog.client_ca: required client certificates are checked against it; set it, or set require_client_cert = false")
	case s.TCP != "" && s.TCP == s.TLS:
		return errors.New("ingest.syslog.tls: the same address as ingest.syslog.tcp; TLS needs a port of its own (6514)")
	}
	return nil
}

// optionalHostPort accepts an empty value or host:port.
func optionalHostPort(s string) error {
	if s == "" {
		return nil
	}
	return hostPort(s)
}
