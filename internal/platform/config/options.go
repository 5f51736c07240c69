package config

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is anzen's configuration after defaults, the file and the
// environment have been applied, in that order (command-line flags last).
type Config struct {
	DataDir   string
	DSN       string
	Listen    string
	PublicURL string
	TLSCert   string
	TLSKey    string

	TrustedProxies []string
	MaxBodyBytes   int64
	LogFormat      string
	LogLevel       string
	Metrics        bool
	Lang           string
	TimeZone       string

	SessionIdle     time.Duration
	SessionLifetime time.Duration
	SessionCacheTTL time.Duration

	PasswordProfile    string
	PasswordMinLength  int
	PasswordMinClasses int
	PasswordMaxAge     time.Duration
	PasswordHistory    int

	LockoutFailures int
	LockoutDuration time.Duration
	FailureDelay    time.Duration
	LoginRatePerMin int

	MFARoles []string

	KeysRoot         string
	KeysUsageFlush   time.Duration
	PKCS11Module     string
	PKCS11TokenLabel string
	PKCS11PINFile    string

	Audit    AuditConfig
	Syslog   SyslogConfig
	Mail     MailConfig
	Detect   DetectConfig
	Incident IncidentConfig
}

// option is one configuration key: its TOML name, environment variable,
// default, help in both languages, and how to apply a value.
type option struct {
	Key     string
	Env     string
	Default string
	HelpEN  string
	HelpJA  string
	set     func(c *Config, v value) error
	get     func(c *Config) string
}

// options is the one table of anzen's settings, each part's in its own
// file; validation, `anzen config example` and docs/configuration.md all
// follow from it.
var options = join(baseOptions, auditOptions, keepOptions, ingestOptions, mailOptions, detectOptions, incidentOptions)

func join(lists ...[]option) []option {
	var out []option
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// baseOptions are the settings of anzen as a whole, identity and keys.
var baseOptions = []option{
	{"data", "ANZEN_DATA", "./anzen-data",
		"Data directory: the SQLite database, the initial administrator password file and other local state.",
		"データディレクトリ。SQLite データベース、初期管理者パスワードのファイルなどを置きます。",
		func(c *Config, v value) error { return v.str(&c.DataDir, nonEmpty) },
		func(c *Config) string { return c.DataDir }},
	{"db", "ANZEN_DB", "",
		"Database: empty for SQLite inside the data directory, a file path for SQLite elsewhere, or a postgres:// DSN.",
		"データベース。空欄ならデータディレクトリ内の SQLite、postgres:// で始まる DSN なら PostgreSQL を使います。",
		func(c *Config, v value) error { return v.str(&c.DSN, nil) },
		func(c *Config) string { return redactDSN(c.DSN) }},
	{"listen", "ANZEN_LISTEN", "127.0.0.1:8080",
		"Address and port of the web interface and API.",
		"Web 画面と API を待ち受けるアドレスとポート。",
		func(c *Config, v value) error { return v.str(&c.Listen, hostPort) },
		func(c *Config) string { return c.Listen }},
	{"public_url", "ANZEN_PUBLIC_URL", "",
		"The URL people type to reach anzen (used for WebAuthn and links in mail). Empty: derived from listen, with localhost for 127.0.0.1.",
		"利用者がブラウザで開く URL（WebAuthn とメール内のリンクに使います）。空欄なら listen から決めます。",
		func(c *Config, v value) error { return v.str(&c.PublicURL, httpURL) },
		func(c *Config) string { return c.PublicURL }},
	{"tls.cert", "ANZEN_TLS_CERT", "",
		"PEM certificate file; with tls.key, anzen serves HTTPS and sets HSTS and Secure cookies.",
		"PEM 形式の証明書ファイル。tls.key と共に指定すると HTTPS で待ち受けます。",
		func(c *Config, v value) error { return v.str(&c.TLSCert, nil) },
		func(c *Config) string { return c.TLSCert }},
	{"tls.key", "ANZEN_TLS_KEY", "",
		"PEM private key file for tls.cert.",
		"tls.cert の秘密鍵ファイル（PEM 形式）。",
		func(c *Config, v value) error { return v.str(&c.TLSKey, nil) },
		func(c *Config) string { return c.TLSKey }},
	{"http.trusted_proxies", "ANZEN_TRUSTED_PROXIES", "",
		"Addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed. Empty: none.",
		"X-Forwarded-For を信頼するリバースプロキシのアドレスまたは CIDR。空欄なら信頼しません。",
		func(c *Config, v value) error { return v.list(&c.TrustedProxies, cidrOrIP) },
		func(c *Config) string { return strings.Join(c.TrustedProxies, ",") }},
	{"http.max_body", "ANZEN_MAX_BODY", "1048576",
		"Largest request body accepted, in bytes.",
		"受け付けるリクエスト本文の最大バイト数。",
		func(c *Config, v value) error { return v.int64(&c.MaxBodyBytes, 1024, 1<<30) },
		func(c *Config) string { return strconv.FormatInt(c.MaxBodyBytes, 10) }},
	{"log.format", "ANZEN_LOG_FORMAT", "text",
		"Format of anzen's own log: text or json.",
		"anzen 自身のログ形式（text または json）。",
		func(c *Config, v value) error { return v.str(&c.LogFormat, oneOf("text", "json")) },
		func(c *Config) string { return c.LogFormat }},
	{"log.level", "ANZEN_LOG_LEVEL", "info",
		"Lowest level of anzen's own log: debug, info, warn or error.",
		"anzen 自身のログの最低レベル（debug, info, warn, error）。",
		func(c *Config, v value) error { return v.str(&c.LogLevel, oneOf("debug", "info", "warn", "error")) },
		func(c *Config) string { return c.LogLevel }},
	{"metrics.enabled", "ANZEN_METRICS", "false",
		"Serve Prometheus metrics at /metrics (read with an API token of scope metrics).",
		"/metrics で Prometheus 形式のメトリクスを公開します（スコープ metrics の API トークンで読み取ります）。",
		func(c *Config, v value) error { return v.bool(&c.Metrics) },
		func(c *Config) string { return strconv.FormatBool(c.Metrics) }},
	{"ui.language", "ANZEN_LANG", "ja",
		"Language of pages for people who have not chosen one: ja or en.",
		"言語を選んでいない利用者に表示する言語（ja または en）。",
		func(c *Config, v value) error { return v.str(&c.Lang, oneOf("ja", "en")) },
		func(c *Config) string { return c.Lang }},
	{"ui.time_zone", "ANZEN_TIME_ZONE", "Asia/Tokyo",
		"Time zone in which pages show times (anzen stores UTC).",
		"画面に表示する時刻のタイムゾーン（保存は UTC）。",
		func(c *Config, v value) error { return v.str(&c.TimeZone, timeZone) },
		func(c *Config) string { return c.TimeZone }},
	{"session.idle_timeout", "ANZEN_SESSION_IDLE", "15m",
		"Sign a person out after this long without activity (anzen policy; the guideline gives no figure).",
		"操作がない状態がこの時間続くとログアウトします（anzen の方針。ガイドラインに数値の定めはありません）。",
		func(c *Config, v value) error { return v.dur(&c.SessionIdle, time.Minute, 24*time.Hour) },
		func(c *Config) string { return c.SessionIdle.String() }},
	{"session.max_lifetime", "ANZEN_SESSION_LIFETIME", "12h",
		"Longest a session lives, active or not (anzen policy).",
		"操作の有無にかかわらずセッションが有効な最長時間（anzen の方針）。",
		func(c *Config, v value) error { return v.dur(&c.SessionLifetime, 5*time.Minute, 7*24*time.Hour) },
		func(c *Config) string { return c.SessionLifetime.String() }},
	{"session.cache_ttl", "ANZEN_SESSION_CACHE_TTL", "1s",
		"How long a session or API token check is answered from memory; a sign-out, role change or token revocation made on another anzen instance (or with the anzen command in another process) takes effect here within it. 0s: always ask the database.",
		"セッションと API トークンの確認結果をメモリに保持する時間。別の anzen インスタンス（または別プロセスの anzen コマンド）で行ったログアウト、権限変更、トークンの失効は、この時間内にこちらにも反映されます。0s ならメモリに保持しません。",
		func(c *Config, v value) error { return v.dur(&c.SessionCacheTTL, 0, time.Minute) },
		func(c *Config) string { return c.SessionCacheTTL.String() }},
	{"password.profile", "ANZEN_PASSWORD_PROFILE", "mhlw",
		"Password policy: mhlw (guideline 6.5), nist (SP 800-63B) or custom (the password.* settings below).",
		"パスワードポリシー。mhlw（ガイドライン 6.5）、nist（SP 800-63B）、custom（下の password.* の設定）。",
		func(c *Config, v value) error { return v.str(&c.PasswordProfile, oneOf("mhlw", "nist", "custom")) },
		func(c *Config) string { return c.PasswordProfile }},
	{"password.min_length", "ANZEN_PASSWORD_MIN_LENGTH", "12",
		"custom profile: least number of characters.",
		"custom ポリシー：最小文字数。",
		func(c *Config, v value) error { return v.int(&c.PasswordMinLength, 8, 128) },
		func(c *Config) string { return strconv.Itoa(c.PasswordMinLength) }},
	{"password.min_classes", "ANZEN_PASSWORD_MIN_CLASSES", "3",
		"custom profile: least number of character classes (upper, lower, digit, symbol).",
		"custom ポリシー：最低限含める文字種（英大文字・英小文字・数字・記号）の数。",
		func(c *Config, v value) error { return v.int(&c.PasswordMinClasses, 0, 4) },
		func(c *Config) string { return strconv.Itoa(c.PasswordMinClasses) }},
	{"password.max_age", "ANZEN_PASSWORD_MAX_AGE", "0s",
		"custom profile: force a change after this long; 0s for never.",
		"custom ポリシー：この期間でパスワード変更を求めます。0s なら求めません。",
		func(c *Config, v value) error { return v.dur(&c.PasswordMaxAge, 0, 3650*24*time.Hour) },
		func(c *Config) string { return c.PasswordMaxAge.String() }},
	{"password.history", "ANZEN_PASSWORD_HISTORY", "5",
		"How many previous passwords may not be used again.",
		"再利用を禁止する過去のパスワードの数。",
		func(c *Config, v value) error { return v.int(&c.PasswordHistory, 0, 50) },
		func(c *Config) string { return strconv.Itoa(c.PasswordHistory) }},
	{"lockout.max_failures", "ANZEN_LOCKOUT_FAILURES", "5",
		"Lock an account after this many wrong passwords in a row (anzen policy).",
		"連続してこの回数パスワードを誤るとアカウントをロックします（anzen の方針）。",
		func(c *Config, v value) error { return v.int(&c.LockoutFailures, 1, 100) },
		func(c *Config) string { return strconv.Itoa(c.LockoutFailures) }},
	{"lockout.duration", "ANZEN_LOCKOUT_DURATION", "15m",
		"How long a locked account stays locked (anzen policy).",
		"ロックしたアカウントを解除するまでの時間（anzen の方針）。",
		func(c *Config, v value) error { return v.dur(&c.LockoutDuration, time.Minute, 30*24*time.Hour) },
		func(c *Config) string { return c.LockoutDuration.String() }},
	{"lockout.failure_delay", "ANZEN_FAILURE_DELAY", "1s",
		"Delay before answering a failed login.",
		"ログイン失敗の応答を返すまでの待ち時間。",
		func(c *Config, v value) error { return v.dur(&c.FailureDelay, 0, 10*time.Second) },
		func(c *Config) string { return c.FailureDelay.String() }},
	{"lockout.login_rate", "ANZEN_LOGIN_RATE", "30",
		"Login attempts allowed per client address per minute.",
		"1 つの接続元アドレスから 1 分間に受け付けるログイン試行の数。",
		func(c *Config, v value) error { return v.int(&c.LoginRatePerMin, 1, 100000) },
		func(c *Config) string { return strconv.Itoa(c.LoginRatePerMin) }},
	{"mfa.required_roles", "ANZEN_MFA_ROLES", "admin,ciso,csirt,auditor,staff,vendor",
		"Roles whose members must use a second factor (二要素認証). Default: every role.",
		"二要素認証を必須とするロール。既定はすべてのロールです。",
		func(c *Config, v value) error {
			return v.list(&c.MFARoles, oneOf("admin", "ciso", "csirt", "auditor", "staff", "vendor"))
		},
		func(c *Config) string { return strings.Join(c.MFARoles, ",") }},
	{"keys.root", "ANZEN_KEYS_ROOT", "local",
		"Root of trust of the key service: local (a root key in the data directory, sealed under the unseal passphrase) or pkcs11 (an HSM; see keys.pkcs11.*).",
		"鍵管理の信頼の起点。local（データディレクトリ内のルート鍵をアンシール用パスフレーズで封印）または pkcs11（HSM。keys.pkcs11.* を参照）。",
		func(c *Config, v value) error { return v.str(&c.KeysRoot, oneOf("local", "pkcs11")) },
		func(c *Config) string { return c.KeysRoot }},
	{"keys.usage_flush", "ANZEN_KEYS_USAGE_FLUSH", "1m",
		"How often the counted key uses are written to the usage table and the audit log.",
		"集計した鍵の使用回数を使用記録と監査ログに書き出す間隔。",
		func(c *Config, v value) error { return v.dur(&c.KeysUsageFlush, 10*time.Second, time.Hour) },
		func(c *Config) string { return c.KeysUsageFlush.String() }},
	{"keys.pkcs11.module", "ANZEN_PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so",
		"keys.root = pkcs11: the HSM vendor's PKCS#11 library.",
		"keys.root = pkcs11 のとき：HSM の PKCS#11 ライブラリのパス。",
		func(c *Config, v value) error { return v.str(&c.PKCS11Module, nonEmpty) },
		func(c *Config) string { return c.PKCS11Module }},
	{"keys.pkcs11.token_label", "ANZEN_PKCS11_TOKEN_LABEL", "",
		"keys.root = pkcs11: label of the HSM token (slot) anzen uses.",
		"keys.root = pkcs11 のとき：anzen が使う HSM のトークン（スロット）のラベル。",
		func(c *Config, v value) error { return v.str(&c.PKCS11TokenLabel, nil) },
		func(c *Config) string { return c.PKCS11TokenLabel }},
	{"keys.pkcs11.pin_file", "ANZEN_PKCS11_PIN_FILE", "",
		"keys.root = pkcs11: file holding the token's user PIN (or give it in ANZEN_PKCS11_PIN). The PIN itself is never a setting.",
		"keys.root = pkcs11 のとき：トークンのユーザー PIN を書いたファイル（環境変数 ANZEN_PKCS11_PIN でも可）。PIN そのものは設定項目にしません。",
		func(c *Config, v value) error { return v.str(&c.PKCS11PINFile, nil) },
		func(c *Config) string { return c.PKCS11PINFile }},
}

// Values returns every setting as text, as in force, with any password in
// the database DSN hidden: what the audit log records at start-up.
func (c *Config) Values() map[string]string {
	out := make(map[string]string, len(options))
	for _, o := range options {
		out[o.Key] = o.get(c)
	}
	return out
}

func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
