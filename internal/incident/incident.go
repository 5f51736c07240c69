package incident

import (
	"fmt"
	"slices"
	"time"
)

// The incident's vocabulary: its kinds (each with a playbook), its
// severities and the states a response goes through (the NIST SP 800-61
// phases, as Japanese CSIRTs name them: 初動・封じ込め・根絶・復旧).

// Kind is what sort of incident it is.
type Kind string

// The kinds of incident. Other is for what none of them says.
const (
	Ransomware         Kind = "ransomware"          // ランサムウェア
	TargetedMail       Kind = "targeted_mail"       // 標的型メール・ビジネスメール詐欺
	UnauthorisedAccess Kind = "unauthorised_access" // 不正アクセス
	InsiderMisuse      Kind = "insider_misuse"      // 内部不正（不適切な閲覧・持ち出し）
	DataLeak           Kind = "data_leak"           // 情報漏えい
	SystemFailure      Kind = "system_failure"      // システム障害
	DDoS               Kind = "ddos"                // DDoS・サービス妨害
	LostDevice         Kind = "lost_device"         // 端末・媒体の紛失・盗難
	Malware            Kind = "malware"             // マルウェア感染（ランサムウェア以外）
	Other              Kind = "other"               // その他
)

// Kinds lists every kind, in the order forms show them.
var Kinds = []Kind{Ransomware, TargetedMail, UnauthorisedAccess, InsiderMisuse, DataLeak, SystemFailure, DDoS,
	LostDevice, Malware, Other}

// ParseKind checks that s names a kind.
func ParseKind(s string) (Kind, error) {
	if k := Kind(s); slices.Contains(Kinds, k) {
		return k, nil
	}
	return "", fmt.Errorf("unknown incident kind %q (allowed: %s)", s, joinKinds())
}

func joinKinds() string {
	s := ""
	for i, k := range Kinds {
		if i > 0 {
			s += ", "
		}
		s += string(k)
	}
	return s
}

// Severity is how grave the incident is.
type Severity string

// The severities, from the least.
const (
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

// Severities lists every severity, from the least.
var Severities = []Severity{Low, Medium, High, Critical}

// ParseSeverity checks that s names a severity.
func ParseSeverity(s string) (Severity, error) {
	if v := Severity(s); slices.Contains(Severities, v) {
		return v, nil
	}
	return "", fmt.Errorf("unknown severity %q (allowed: low, medium, high, critical)", s)
}

// State is where the response stands.
type State string

// The states, in the order a response goes through them.
const (
	New         State = "new"         // 受付
	Triage      State = "triage"      // 初動・トリアージ
	Containment State = "containment" // 封じ込め
	Eradication State = "eradication" // 根絶
	Recovery    State = "recovery"    // 復旧
	Closed      State = "closed"      // 終結
)

// States lists every state, in order.
var States = []State{New, Triage, Containment, Eradication, Recovery, Closed}

// ParseState checks that s names a state.
func ParseState(s string) (State, error) {
	if v := State(s); slices.Contains(States, v) {
		return v, nil
	}
	return "", fmt.Errorf("unknown state %q (allowed: new, triage, containment, eradication, recovery, closed)", s)
}

// Leak says whether personal data left the hospital's control.
type Leak string

// The answers.
const (
	LeakNone      Leak = "none"
	LeakPossible  Leak = "possible"
	LeakConfirmed Leak = "confirmed"
)

// ParseLeak checks that s is none, possible or confirmed.
func ParseLeak(s string) (Leak, error) {
	switch v := Leak(s); v {
	case LeakNone, LeakPossible, LeakConfirmed:
		return v, nil
	}
	return "", fmt.Errorf("unknown leak %q (allowed: none, possible, confirmed)", s)
}

// Incident is one incident as the CSIRT runs it.
type Incident struct {
	ID       int64
	Facility int64
	Kind     Kind
	Severity Severity
	State    State
	Title    string
	Summary  string
	// AwareAt is when the hospital became aware of it: the reporting
	// duties' clocks start here. OccurredAt is when it began, if known.
	AwareAt    time.Time
	OccurredAt time.Time
	Created    time.Time
	CreatedBy  string
	Updated    time.Time
	Closed     time.Time
	Resolution string
	Commander  string // login of who leads the response

	AffectedSystems string
	AffectedData    string
	// The facts the reporting duties turn on.
	People      int64 // estimated number of people whose data is affected
	MedicalData bool  // medical (special care-required) personal data is involved
	Leak        Leak
	Malicious   bool // caused with malicious intent
	Crime       bool // a crime is suspected
	Cyberattack bool // a cyberattack is suspected
	CareImpact  bool // the delivery of care is or may be impaired
	Encrypted   bool // the data was under advanced encryption

	SourceAlert int64 // the alert it was escalated from; 0 for none
}

// Ref is the incident's reference as people quote it: INC-2026-0012,
// the year it was created (Japan time) and its number.
func (i *Incident) Ref() string {
	return Ref(i.ID, i.Created)
}

// Ref writes the reference of the incident id created at t.
func Ref(id int64, created time.Time) string {
	return fmt.Sprintf("INC-%d-%04d", created.In(japan).Year(), id)
}

// japan is the time zone of references and of the reports' dates.
var japan = time.FixedZone("JST", 9*60*60)

// Open reports whether the response is still under way.
func (i *Incident) Open() bool { return i.State != Closed }
