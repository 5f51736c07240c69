package audit

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
)

// eventExportMax is ExportMaxRows; tests lower it.
var eventExportMax = ExportMaxRows

// eventCSVHeader are the message ids of the columns of an access-log
// export, in order.
var eventCSVHeader = []string{"audit.col.id", "audit.col.time", "audit.events.col.received", "audit.col.facility",
	"audit.events.col.source", "audit.events.col.actor_id", "audit.events.col.actor_name", "audit.events.col.profession",
	"audit.events.col.department", "audit.events.col.terminal", "audit.events.col.address", "audit.col.action",
	"audit.col.action_code", "audit.events.col.patient_id", "audit.events.col.patient_name",
	"audit.events.col.object_type", "audit.events.col.object_id", "audit.col.outcome", "audit.events.col.purpose",
	"audit.events.col.session", "audit.events.col.flags", "audit.events.col.skew_seconds"}

// exportEvents writes every event q selects, up to ExportMaxRows, newest
// first, as CSV: UTF-8 with a byte-order mark so that Excel opens it as
// such, a header row in the request's language, every text cell safe from
// formula injection (cell). When more events match, a last row says that
// the export was cut and how to get the rest, and the header
// X-Anzen-Truncated is true. The export is recorded (via) before anything
// is sent; name begins the file name.
func (h *handlers) exportEvents(w http.ResponseWriter, r *http.Request, q EventQuery, name, via string) {
	recorded := q
	q.Limit = MaxLimit
	page, err := h.log.SearchEvents(r.Context(), q)
	if err == nil {
		err = h.recordEventSearch(r, recorded, via)
	}
	if err != nil {
		h.pageFailed(w, r, "export the access log", err)
		return
	}
	lang := h.srv.Lang(r)
	file := name + "-" + h.log.clock.Now().In(h.loc).Format("20060102-150405") + ".csv"
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+file+`"`)
	w.Header().Set("Trailer", "X-Anzen-Truncated")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("\uFEFF"))
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	header := make([]string, len(eventCSVHeader))
	for i, id := range eventCSVHeader {
		header[i] = h.srv.Catalog().T(lang, id, nil)
	}
	_ = cw.Write(header)
	rows, cut := 0, false
	for {
		for _, e := range page.Events {
			if rows == eventExportMax {
				cut = true // events are left in this page
				break
			}
			rows++
			_ = cw.Write(h.eventCSVRow(lang, e))
		}
		if cut || page.Next == 0 {
			break
		}
		if rows == eventExportMax {
			cut = true // a next page exists
			break
		}
		q.Before = page.Next
		if page, err = h.log.SearchEvents(r.Context(), q); err != nil {
			// The status is sent; the log is all that can be told.
			h.srv.Log().Error("export the access log", "err", err)
			break
		}
	}
	if cut {
		_ = cw.Write([]string{h.srv.Catalog().T(lang, "audit.events.export_cut",
			map[string]any{"Max": groupDigits(eventExportMax)})})
	}
	cw.Flush()
	w.Header().Set("X-Anzen-Truncated", strconv.FormatBool(cut))
	if err := cw.Error(); err != nil {
		h.srv.Log().Warn("write an access-log export", "err", err)
	}
}

// eventCSVRow is one event as a CSV row in lang.
func (h *handlers) eventCSVRow(lang string, e Event) []string {
	const ms = "2006-01-02T15:04:05.000Z07:00"
	skew := ""
	if !e.Flags.Has(FlagNoSourceTime) {
		skew = strconv.FormatFloat(e.Skew().Seconds(), 'f', 3, 64)
	}
	return []string{
		strconv.FormatInt(e.Seq, 10),
		e.Time.In(h.loc).Format(ms),
		e.Received.In(h.loc).Format(ms),
		strconv.FormatInt(e.Facility, 10),
		cell(e.Source),
		cell(e.Actor.ID),
		cell(e.Actor.Name),
		cell(e.Actor.Profession),
		cell(e.Actor.Department),
		cell(e.Actor.Terminal),
		cell(e.Actor.Address),
		cell(h.eventActionLabel(lang, e.Action)),
		cell(e.Action),
		cell(e.Patient.ID),
		cell(e.Patient.Name),
		cell(e.Object.Type),
		cell(e.Object.ID),
		h.eventOutcomeLabel(lang, e.Outcome),
		cell(e.Purpose),
		cell(e.Session),
		strings.Join(e.Flags.Names(), " "),
		skew,
	}
}
