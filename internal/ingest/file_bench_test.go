package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/anzen-health/anzen/internal/audit"
	"github.com/anzen-health/anzen/internal/platform/clock"
	"github.com/anzen-health/anzen/internal/platform/db"
	"github.com/anzen-health/anzen/internal/platform/db/dbtest"
)

// ehrExport returns a day's access log export of the EHR example with n
// rows, in UTF-8.
func ehrExport(n int) []byte {
	var b bytes.Buffer
	b.WriteString("利用日,利用時刻,利用者ID,利用者氏名,職種コード,所属,端末名,端末IPアドレス,処理区分,患者ID,患者氏名,画面名,文書番号,処理結果\n")
	actions := []string{"REF", "REF", "REF", "UPD", "PRT", "SRCH", "NEW", "REF"}
	for i := range n {
		at := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 400 * time.Millisecond)
		fmt.Fprintf(&b, "%s,%s,D%04d,職員 %d,0%d,内科,NAIKA-WS%03d,10.1.2.%d,%s,%010d,患者 %d,カルテ参照,K-%08d,%d\n",
			at.Format("2006/01/02"), at.Format("15:04:05"), i%300, i%300, i%5+1, i%120, i%250+1, actions[i%len(actions)],
			(i*7919)%50000, i%50000, i, i%50/49)
	}
	return b.Bytes()
}

// BenchmarkImportCSV imports a large CSV export (the EHR example, about
// 190 bytes a row) by its mapping into the log, durably. It reports rows/s.
//
//	go test -run XXX -bench ImportCSV -benchtime 200000x ./internal/ingest/
func BenchmarkImportCSV(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchImportCSV(b, dbtest.SQLite(b, parts...)) })
	b.Run("postgres", func(b *testing.B) {
		if os.Getenv("ANZEN_TEST_POSTGRES") == "" {
			b.Skip("ANZEN_TEST_POSTGRES is not set")
		}
		benchImportCSV(b, dbtest.Postgres(b, parts...))
	})
}

func benchImportCSV(b *testing.B, d *db.DB) {
	m, err := LoadMapping("testdata/ehr-mapping.toml")
	if err != nil {
		b.Fatal(err)
	}
	data := ehrExport(b.N)
	l := audit.New(d, clock.Real{}, audit.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	b.SetBytes(int64(len(data) / max(b.N, 1)))
	b.ResetTimer()
	res, err := Import(context.Background(), l, bytes.NewReader(data), ImportOptions{Format: FormatCSV, Mapping: m, Facility: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if res.Accepted != b.N {
		b.Fatalf("%+v", res)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
