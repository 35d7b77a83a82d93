package statements

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"tartine/fees"
	"tartine/school"
)

// BenchmarkStatements issues the statements of one period for 20,000
// pupils (TARTINE_BENCH_PUPILS changes the number), each with two fee
// lines and one or two guardians, then renders every PDF on the machine's
// cores. The setup (pupil import, fees) is not timed. Run it once:
//
//	go test -run '^$' -bench Statements -benchtime 1x -timeout 30m ./statements/
//
// It reports the seconds of issue and of PDFs, statements/s, the mean PDF
// size and the peak Go heap (sampled every 20 ms), and fails when the
// whole takes 60 s or more or the heap passes the 512 MiB ceiling.
func BenchmarkStatements(b *testing.B) {
	n := 20000
	if v := os.Getenv("TARTINE_BENCH_PUPILS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("TARTINE_BENCH_PUPILS=%q", v)
		}
	}
	f := newFixture(b)
	setup := time.Now()
	// Pupils and guardians created one by one on two connections (the CSV
	// import of 20,000 pupils in one transaction is superlinear, and its
	// lookup of a new guardian by name scans the guardians table).
	classes := []string{"P4A", "P4B", "P5A", "P5B", "P6A", "P6B", "S1A", "S2A"}
	classID := map[string]int64{}
	for _, code := range classes {
		cl, err := f.school.EnsureClass(f.ctx, f.tenant.ID, f.sch.ID, code, code[:2])
		if err != nil {
			b.Fatal(err)
		}
		classID[code] = cl.ID
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 2 {
				code := classes[i%len(classes)]
				p, err := f.school.CreatePupil(f.ctx, f.tenant.ID, school.PupilInput{SchoolID: f.sch.ID, ClassID: classID[code], ExternalRef: fmt.Sprintf("M%06d", i),
					FirstName: "Zoé", LastName: fmt.Sprintf("Lefèvre-%d", i), Level: code[:2]}, "bench")
				if err != nil {
					errs <- err
					return
				}
				guardians := [][2]string{{"Anne", fmt.Sprintf("a%d@example.be", i)}}
				if i%3 != 0 { // two thirds have two guardians (separated parents each get it)
					guardians = append(guardians, [2]string{"Paul", fmt.Sprintf("p%d@example.be", i)})
				}
				for _, g := range guardians {
					gd, err := f.school.CreateGuardian(f.ctx, f.tenant.ID, school.GuardianInput{FirstName: g[0], LastName: p.LastName, Email: g[1]}, "bench")
					if err == nil {
						err = f.school.LinkGuardian(f.ctx, f.tenant.ID, gd.ID, p.ID, "parent", "bench")
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.Logf("%d pupils and their guardians at %.1f s", n, time.Since(setup).Seconds())
	cls, err := f.school.Classes(f.ctx, f.tenant.ID, f.sch.ID)
	if err != nil {
		b.Fatal(err)
	}
	var ids []int64
	for _, c := range cls {
		ids = append(ids, c.ID)
	}
	for _, fe := range []struct{ object, category, amount string }{{"Piscine — septembre et octobre", "piscine", "24.00"}, {"Théâtre « Le Petit Prince »", "activites", "31.50"}} {
		if _, err := f.fees.Create(f.ctx, f.tenant.ID, fees.CreateInput{SchoolID: f.sch.ID, Object: fe.object, Category: fe.category, Kind: fees.Obligatoire,
			Dates: []time.Time{day(2026, 10, 6)}, Amount: decimal.RequireFromString(fe.amount), ClassIDs: ids}, "bench"); err != nil {
			b.Fatalf("fee: %v", err)
		}
	}
	ps := f.periods()
	f.override()
	f.clock.set(at(2026, time.November, 3, 9))
	b.Logf("setup: %d pupils and %d fee lines in %.1f s", n, 2*n, time.Since(setup).Seconds())

	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	runtime.GC()
	b.ResetTimer()
	start := time.Now()
	var drafted time.Duration
	run, err := f.svc.Issue(f.ctx, f.tenant.ID, ps[0].ID, "bench", func(done, total int) {
		if drafted == 0 {
			drafted = time.Since(start) // built, locked, first chunk recorded
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	issued := time.Since(start)
	var pdfs, size int64
	err = f.svc.RenderRun(f.ctx, f.tenant.ID, run.ID, 0, "fr", func(st Statement, pdf []byte) error {
		if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
			return fmt.Errorf("statement %s: not a PDF", st.Number)
		}
		pdfs++
		size += int64(len(pdf))
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	total := time.Since(start)
	b.StopTimer()
	close(stop)
	<-sampled
	if run.Statements != n || pdfs != int64(n) {
		b.Fatalf("issued %d statements and %d PDFs, want %d", run.Statements, pdfs, n)
	}
	peakMiB := float64(peak.Load()) / (1 << 20)
	b.ReportMetric(issued.Seconds(), "issue-s")
	b.ReportMetric((total - issued).Seconds(), "pdf-s")
	b.ReportMetric(total.Seconds(), "total-s")
	b.ReportMetric(float64(n)/total.Seconds(), "statements/s")
	b.ReportMetric(float64(size)/float64(n)/1024, "KiB/pdf")
	b.ReportMetric(peakMiB, "peak-heap-MiB")
	b.Logf("issue: first chunk of 500 recorded at %.1f s", drafted.Seconds())
	b.Logf("%d statements: issue %.1f s, PDFs %.1f s, total %.1f s (%.0f/s); %.1f KiB per PDF; peak heap %.0f MiB; VmHWM %s",
		n, issued.Seconds(), (total - issued).Seconds(), total.Seconds(), float64(n)/total.Seconds(), float64(size)/float64(n)/1024, peakMiB, vmHWM())
	if n >= 20000 && total >= 60*time.Second {
		b.Errorf("20,000 statements with PDFs took %.1f s, want under 60 s", total.Seconds())
	}
	if peakMiB > 512 {
		b.Errorf("peak heap %.0f MiB, over the 512 MiB ceiling", peakMiB)
	}
}

// vmHWM is the process's peak resident set (Linux), for the record.
func vmHWM() string {
	fh, err := os.Open("/proc/self/status")
	if err != nil {
		return "?"
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
