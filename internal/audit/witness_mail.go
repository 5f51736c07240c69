package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/anzen-health/anzen/internal/platform/mail"
)

// tokyo is where the Japanese half of the mail tells the time.
var tokyo = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		return time.FixedZone("JST", 9*60*60)
	}
	return loc
}()

// WitnessMail returns the mail that carries cp to a witness: Japanese
// first, then English, then the signed note, which is also attached as a
// text file.
func (l *Log) WitnessMail(ctx context.Context, to string, cp *Checkpoint) (mail.Message, error) {
	w := l.keep.witness
	if w == nil || w.Catalog == nil {
		return mail.Message{}, errors.New("the audit log has no mail text (catalog) for witnesses")
	}
	keys, err := l.VerifierKeys(ctx)
	if err != nil {
		return mail.Message{}, err
	}
	file := fmt.Sprintf("checkpoint-%d.txt", cp.Size)
	data := map[string]any{
		"Origin":      cp.Origin,
		"Size":        cp.Size,
		"SignedAt":    cp.SignedAt.In(tokyo).Format("2006-01-02 15:04:05 MST"),
		"SignedAtUTC": cp.SignedAt.UTC().Format(time.RFC3339),
		"Keys":        "    " + strings.Join(keys, "\n    "),
		"File":        file,
		"URL":         w.PublicURL,
	}
	rule := strings.Repeat("-", 72)
	text := w.Catalog.T("ja", "audit.witness.mail.body", data) + "\n" + rule + "\n\n" +
		w.Catalog.T("en", "audit.witness.mail.body", data) + "\n" + rule + "\n" + cp.Note
	return mail.Message{
		To:      []string{to},
		Subject: w.Catalog.T("ja", "audit.witness.mail.subject", data) + " / " + w.Catalog.T("en", "audit.witness.mail.subject", data),
		Text:    text,
		Attachments: []mail.Attachment{{Name: file, ContentType: "text/plain; charset=utf-8",
			Data: []byte(cp.Note)}},
	}, nil
}

// mailWitness mails cp to one witness address.
func (l *Log) mailWitness(ctx context.Context, to string, cp *Checkpoint) error {
	m, err := l.WitnessMail(ctx, to, cp)
	if err != nil {
		return err
	}
	return l.keep.witness.Mailer.Send(ctx, m)
}
