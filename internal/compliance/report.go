package compliance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/anzen-health/anzen/internal/platform/selfaudit"
)

// The reports room: which documents anzen writes about a facility's
// compliance, how each is made from the State (MakeReport, shared by the
// pages, the API and `anzen compliance export`), and the audit record of
// every one handed out — who took which document, of which facility, and
// the SHA-256 of the very file, so an inspector's copy can be matched.

// ReportSource is what the reports read: a facility's State now, its
// trend, the library and the part's configuration (the Translator, PDF,
// AuditProof, Location, Recorder). The compliance Service provides it.
type ReportSource interface {
	State(ctx context.Context, facility int64) (*State, error)
	Trend(ctx context.Context, facility int64, days int) ([]DayScore, error)
	Library() *Library
	Config() Config
}

// PreviousStateSource is what a ReportSource also offers when it keeps
// snapshots: the State of a facility's last snapshot (nil, nil when there
// is none), for the management report's "what changed since".
type PreviousStateSource interface {
	PreviousState(ctx context.Context, facility int64) (*State, error)
}

// AnswerSource is what a ReportSource also offers when it keeps the
// checklist's answers, for the workbook of an edition other than the
// state's.
type AnswerSource interface {
	Answers(ctx context.Context, facility int64, framework string) ([]Answer, error)
}

// ErrUnknownFramework is a framework the library does not have, or one of
// the wrong kind for the document.
var ErrUnknownFramework = errors.New("no such framework for this document")

// The documents, by the name of their download.
const (
	ReportChecklistXLSX  = "checklist.xlsx"
	ReportChecklistPDF   = "checklist.pdf"
	ReportChecklistHTML  = "checklist.html" // the print view
	ReportInspectionXLSX = "inspection.xlsx"
	ReportInspectionPDF  = "inspection.pdf"
	ReportInspectionHTML = "inspection.html" // the print view
	ReportManagementXLSX = "management.xlsx"
	ReportManagementPDF  = "management.pdf"
	ReportManagementHTML = "management.html" // the print view
	ReportOSCALCatalog   = "oscal-catalog.json"
	ReportOSCALResults   = "oscal-results.json"
)

// ReportDocs lists every document MakeReport writes.
var ReportDocs = []string{ReportChecklistXLSX, ReportChecklistPDF, ReportChecklistHTML, ReportInspectionXLSX, ReportInspectionPDF, ReportInspectionHTML,
	ReportManagementXLSX, ReportManagementPDF, ReportManagementHTML, ReportOSCALCatalog, ReportOSCALResults}

// ReportTrendDays is how many days of trend the management report shows.
const ReportTrendDays = 90

// Errors of MakeReport.
var (
	// ErrUnknownReport is a document anzen does not write.
	ErrUnknownReport = errors.New("no such report")
	// ErrNoPDF is a PDF asked for where no renderer is configured.
	ErrNoPDF = errors.New("no PDF renderer: install Chromium or use the print view")
	// ErrNoProof is an inspection pack asked for where the audit log's
	// integrity cannot be stated.
	ErrNoProof = errors.New("the audit log's integrity proof is not available")
	// errReportRender is a PDF the renderer failed to make.
	errReportRender = errors.New("render the PDF")
)

// ReportRequest says which document to write.
type ReportRequest struct {
	Facility int64
	Doc      string // one of ReportDocs
	Lang     string // "ja" (default) or "en"
	// Framework chooses the catalog of the checklist workbook (a checklist
	// edition, such as "mhlw-checklist-r6") or of the OSCAL catalog (any
	// framework); "" is the one the state is assessed against. Other
	// documents ignore it.
	Framework string
	// PDF renders the PDFs; nil: Config().PDF.
	PDF PDF
	// Progress, when set, hears each step (in English, for a terminal).
	Progress func(step string)
}

// ReportFile is a written document.
type ReportFile struct {
	Name        string // the file name to save it under
	ContentType string
	Body        []byte
	SHA256      string // of Body, hex
}

// reportTypes are the documents' content types.
var reportTypes = map[string]string{
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".pdf":  "application/pdf",
	".html": "text/html; charset=utf-8",
	".json": "application/json",
}

// MakeReport writes the document req asks for about req.Facility.
func MakeReport(ctx context.Context, src ReportSource, req ReportRequest) (ReportFile, error) {
	known := false
	for _, d := range ReportDocs {
		known = known || d == req.Doc
	}
	if !known {
		return ReportFile{}, fmt.Errorf("%w: %q", ErrUnknownReport, req.Doc)
	}
	if req.Lang != "en" {
		req.Lang = "ja"
	}
	step := func(s string) {
		if req.Progress != nil {
			req.Progress(s)
		}
	}
	cfg := src.Config()
	lib := src.Library()
	renderer := req.PDF
	if renderer == nil {
		renderer = cfg.PDF
	}
	pdf := req.Doc == ReportInspectionPDF || req.Doc == ReportManagementPDF || req.Doc == ReportChecklistPDF
	if pdf && renderer == nil {
		return ReportFile{}, ErrNoPDF
	}
	now := time.Now()
	if cfg.Clock != nil {
		now = cfg.Clock.Now()
	}
	t, loc := cfg.Translator, cfg.Location
	if req.Doc == ReportOSCALCatalog {
		fw := lib.Guideline()
		if req.Framework != "" {
			fw = lib.Framework(req.Framework)
		}
		if fw == nil {
			return ReportFile{}, fmt.Errorf("%w: %q", ErrUnknownFramework, req.Framework)
		}
		body, err := OSCALCatalog(fw, lib, req.Lang, now)
		if err != nil {
			return ReportFile{}, err
		}
		return reportFileOf("anzen-"+fw.ID+"-catalog.json", body), nil
	}
	step(fmt.Sprintf("reading the compliance state of facility %d", req.Facility))
	st, err := src.State(ctx, req.Facility)
	if err != nil {
		return ReportFile{}, fmt.Errorf("the state of facility %d: %w", req.Facility, err)
	}
	base := func(kind string) string {
		return "anzen-" + kind + "-" + strconv.FormatInt(req.Facility, 10) + "-" + st.At.In(reportLoc(loc)).Format("20060102")
	}
	var body []byte
	var name string
	switch req.Doc {
	case ReportChecklistXLSX, ReportChecklistPDF, ReportChecklistHTML:
		fw, answers := reportChecklist(st, lib), st.Answers
		if req.Framework != "" && (fw == nil || req.Framework != fw.ID) {
			fw = lib.Framework(req.Framework)
			as, ok := src.(AnswerSource)
			if fw == nil || fw.Kind != KindChecklist || !ok {
				return ReportFile{}, fmt.Errorf("%w: %q is not a checklist", ErrUnknownFramework, req.Framework)
			}
			if answers, err = as.Answers(ctx, req.Facility, fw.ID); err != nil {
				return ReportFile{}, fmt.Errorf("the answers of facility %d to %s: %w", req.Facility, fw.ID, err)
			}
		}
		if fw == nil {
			return ReportFile{}, errors.New("the library has no checklist")
		}
		name = base("checklist")
		if req.Doc == ReportChecklistXLSX {
			step("writing the checklist workbook")
			body, err = ChecklistXLSX(t, fw, answers, st.FacilityName, req.Lang, loc, now)
			name += ".xlsx"
			break
		}
		step("writing the checklist")
		body, err = ChecklistHTML(t, fw, answers, st.FacilityName, req.Lang, loc, now)
		name += ".html"
	case ReportOSCALResults:
		body, err = OSCALResults(st, lib, now)
		name = base("assessment-results") + ".json"
	case ReportInspectionXLSX, ReportInspectionPDF, ReportInspectionHTML:
		if cfg.AuditProof == nil {
			return ReportFile{}, ErrNoProof
		}
		step("reading the audit log's integrity proof")
		proof, perr := cfg.AuditProof.IntegrityProof(ctx)
		if perr != nil {
			return ReportFile{}, fmt.Errorf("%w: %v", ErrNoProof, perr)
		}
		name = base("inspection")
		if req.Doc == ReportInspectionXLSX {
			step("writing the inspection pack workbook")
			body, err = InspectionPackXLSX(t, st, lib, proof, req.Lang, loc)
			name += ".xlsx"
			break
		}
		step("writing the inspection pack")
		body, err = InspectionPackHTML(t, st, lib, proof, req.Lang, loc)
		name += ".html"
	case ReportManagementXLSX, ReportManagementPDF, ReportManagementHTML:
		step("reading the trend")
		trend, terr := src.Trend(ctx, req.Facility, ReportTrendDays)
		if terr != nil {
			return ReportFile{}, fmt.Errorf("the trend of facility %d: %w", req.Facility, terr)
		}
		name = base("management")
		if req.Doc == ReportManagementXLSX {
			step("writing the management report workbook")
			body, err = ManagementReportXLSX(t, st, lib, trend, req.Lang, loc)
			name += ".xlsx"
			break
		}
		var prev *State
		if ps, ok := src.(PreviousStateSource); ok {
			if prev, err = ps.PreviousState(ctx, req.Facility); err != nil {
				return ReportFile{}, fmt.Errorf("the last snapshot of facility %d: %w", req.Facility, err)
			}
		}
		step("writing the management report")
		body, err = ManagementReportHTML(t, st, lib, trend, prev, req.Lang, loc)
		name += ".html"
	}
	if err != nil {
		return ReportFile{}, err
	}
	if pdf {
		step("rendering the PDF with Chromium (this takes a few seconds)")
		if body, err = renderer.Render(ctx, body); err != nil {
			return ReportFile{}, fmt.Errorf("%w: %v", errReportRender, err)
		}
		name = name[:len(name)-len(".html")] + ".pdf"
	}
	return reportFileOf(name, body), nil
}

// reportFileOf names a document's bytes.
func reportFileOf(name string, body []byte) ReportFile {
	sum := sha256.Sum256(body)
	ext := ""
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '.' {
			ext = name[i:]
			break
		}
	}
	return ReportFile{Name: name, ContentType: reportTypes[ext], Body: body, SHA256: hex.EncodeToString(sum[:])}
}

// reportLoc is loc, or Japan.
func reportLoc(loc *time.Location) *time.Location {
	if loc == nil {
		return reportJapan
	}
	return loc
}

// RecordReport writes in the audit log that actor took document f of
// facility (its name, language and SHA-256). A document is handed out
// only once this is recorded.
func RecordReport(ctx context.Context, cfg Config, actor Actor, facility int64, doc, lang string, f ReportFile) error {
	if cfg.Recorder == nil {
		return errors.New("no audit recorder: a report is handed out only when it is recorded")
	}
	at := time.Now()
	if cfg.Clock != nil {
		at = cfg.Clock.Now()
	}
	return cfg.Recorder.Record(ctx, cfg.DB, selfaudit.Event{Time: at, Facility: facility, ActorID: actor.UserID,
		ActorLogin: actor.Login, ClientAddr: actor.Client, Action: "compliance.report.download", Target: "report:" + doc,
		Outcome: selfaudit.Success, Detail: map[string]string{"file": f.Name, "lang": lang, "sha256": f.SHA256,
			"bytes": strconv.Itoa(len(f.Body))}})
}
