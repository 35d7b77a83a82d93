package password

import (
	"context"
	"errors"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// TestLimiterKeepsMemoryFlat runs 40 password checks at once through a
// limiter of 2: the heap must stay near 2 × 19 MiB, where 40 unbounded
// argon2id hashes take 40 × 19 MiB = 760 MiB (issue 17: 50 logins took the
// server to 1.1 GB).
func TestLimiterKeepsMemoryFlat(t *testing.T) {
	const n = 40
	h, err := HashWith("correct horse", Default)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLimiter(2, 10*time.Minute)
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	var peak uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Verify(context.Background(), "correct horse", h); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(done)
	<-sampled
	close(errs)
	for err := range errs {
		t.Errorf("Verify = %v, want nil", err)
	}
	grew := int64(peak) - int64(base)
	const mib = 1 << 20
	t.Logf("heap grew by at most %d MiB for %d checks at once", grew/mib, n)
	// Two hashes in flight and the garbage of those just finished,
	// collected as the heap doubles: well under 10 hashes' worth.
	if limit := int64(10 * Default.Memory * 1024); grew > limit {
		t.Errorf("heap grew by %d MiB, want at most %d MiB (about 2 hashes at once)", grew/mib, limit/mib)
	}
}

// TestLimiterBusy: beyond the wait, a check gives ErrBusy without hashing;
// once a slot frees up, checks run again.
func TestLimiterBusy(t *testing.T) {
	l := NewLimiter(1, 50*time.Millisecond)
	if err := l.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := l.Hash(context.Background(), "pw"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash with every slot taken = %v, want ErrBusy", err)
	}
	if waited := time.Since(start); waited < 50*time.Millisecond || waited > 5*time.Second {
		t.Errorf("ErrBusy after %v, want after the 50ms wait", waited)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Verify(ctx, "pw", "x"); !errors.Is(err, ErrBusy) || !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with a cancelled context = %v, want ErrBusy and context.Canceled", err)
	}
	l.release()
	if _, err := l.Hash(context.Background(), "pw"); err != nil {
		t.Errorf("Hash after release = %v", err)
	}
}
