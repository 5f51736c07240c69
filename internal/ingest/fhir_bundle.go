package ingest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/anzen-health/anzen/internal/audit"
)

// fhirBundleIn is a Bundle as sent.
type fhirBundleIn struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Entry        []struct {
		Resource json.RawMessage `json:"resource"`
		Request  *struct {
			Method string `json:"method"`
			URL    string `json:"url"`
		} `json:"request"`
	} `json:"entry"`
}

// BundleOut is the answer to a Bundle: a batch-response or a
// transaction-response with one entry per entry sent, in order.
type BundleOut struct {
	ResourceType string           `json:"resourceType"`
	Type         string           `json:"type"`
	Entry        []BundleOutEntry `json:"entry"`
}

// BundleOutEntry is the result of one entry.
type BundleOutEntry struct {
	Response BundleResponse `json:"response"`
}

// BundleResponse says what became of one entry: "201 Created" with the
// event's position in the log as its location, or "400 Bad Request" with
// an OperationOutcome.
type BundleResponse struct {
	Status       string            `json:"status"`
	Location     string            `json:"location,omitempty"`
	LastModified string            `json:"lastModified,omitempty"`
	Outcome      *OperationOutcome `json:"outcome,omitempty"`
}

// bundleTypes are the Bundle types taken, with the type of the answer.
var bundleTypes = map[string]string{"batch": "batch-response", "transaction": "transaction-response",
	"collection": "batch-response"}

// fhirBundle stores the AuditEvents of a Bundle. A batch or collection
// takes each entry by itself; a transaction all of them or, when one is
// wrong, none (FHIR's rule), answering a single OperationOutcome that
// names every wrong entry.
func (h *handlers) fhirBundle(w http.ResponseWriter, r *http.Request, in *intake, body []byte) {
	var b fhirBundleIn
	if err := json.Unmarshal(body, &b); err != nil {
		re := jsonError(err, "Bundle.")
		h.recordRefusal(r, fhirTarget, "invalid-json")
		writeFHIR(w, http.StatusBadRequest, OperationOutcome{ResourceType: "OperationOutcome",
			Issue: []OutcomeIssue{h.issue(r, re, "")}})
		return
	}
	replyType, ok := bundleTypes[b.Type]
	if !ok {
		h.fail(w, r, http.StatusBadRequest, "not-supported", "not-supported", "ingest.error.bundle_type",
			fmt.Sprintf("Bundle.type %q: anzen takes batch, transaction and collection", clip(b.Type, 40)))
		return
	}
	transaction := b.Type == "transaction"
	events := make([]audit.Event, 0, len(b.Entry))
	at := make([]int, 0, len(b.Entry)) // the entry of each event
	out := BundleOut{ResourceType: "Bundle", Type: replyType, Entry: make([]BundleOutEntry, len(b.Entry))}
	var issues []OutcomeIssue
	for i, en := range b.Entry {
		var e audit.Event
		re := entryRequest(b.Type, en.Request, i)
		if re == nil {
			var err error
			e, err = DecodeFHIR(en.Resource)
			re = AsRecordError(err)
		}
		if re == nil {
			re = in.prepare(&e, nil)
		}
		if re != nil {
			in.refuse(i+1, re)
			is := h.issue(r, re, "Bundle.entry["+strconv.Itoa(i)+"].resource")
			issues = append(issues, is)
			out.Entry[i].Response = BundleResponse{Status: "400 Bad Request",
				Outcome: &OperationOutcome{ResourceType: "OperationOutcome", Issue: []OutcomeIssue{is}}}
			continue
		}
		events = append(events, e)
		at = append(at, i)
	}
	in.logRefusals()
	if transaction && len(issues) > 0 {
		writeFHIR(w, http.StatusBadRequest, OperationOutcome{ResourceType: "OperationOutcome", Issue: issues})
		return
	}
	if len(events) > 0 {
		// One append: all of a transaction's events commit together.
		first, err := h.cfg.Sink.Append(r.Context(), events)
		if err != nil {
			h.fhirStoreFailed(w, r, err)
			return
		}
		modified := in.arrived.UTC().Format("2006-01-02T15:04:05.000Z07:00")
		for k, i := range at {
			out.Entry[i].Response = BundleResponse{Status: "201 Created",
				Location: "AuditEvent/" + strconv.FormatInt(first+int64(k), 10), LastModified: modified}
		}
	}
	writeFHIR(w, http.StatusOK, out)
}

// entryRequest checks the request of entry i of a batch or transaction: a
// POST (create) of an AuditEvent. Entries of a collection have none.
func entryRequest(bundleType string, req *struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}, i int) *RecordError {
	if bundleType == "collection" || req == nil {
		return nil
	}
	url := strings.TrimSuffix(strings.SplitN(req.URL, "?", 2)[0], "/")
	if req.Method == "POST" && (url == "AuditEvent" || strings.HasSuffix(url, "/AuditEvent")) {
		return nil
	}
	field := "Bundle.entry[" + strconv.Itoa(i) + "].request"
	return reject(RejectBundleEntry, field,
		fmt.Sprintf("%s: %s %s: anzen takes only POST AuditEvent", field, clip(req.Method, 10), clip(req.URL, 60)),
		map[string]any{"Method": clip(req.Method, 10), "URL": clip(req.URL, 60)})
}
