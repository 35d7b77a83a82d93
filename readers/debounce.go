package readers

import (
	"sync"
	"time"
)

// DefaultDebounce is the window within which the same badge on the same
// reader counts as one tap.
const DefaultDebounce = 2 * time.Second

// Debouncer merges repeated reads of one badge into one tap. EM4100
// modules repeat their frame while the badge stays in the field and PN532
// polling sees a resting card again at every poll: each read of a UID
// (with its Tech) that comes less than Window after the previous read of
// the same UID is a duplicate, so a badge left on the reader stays one tap.
// Time comes from Tap.ReadAt. A Debouncer is safe for concurrent use; use
// one per reader.
type Debouncer struct {
	window time.Duration
	mu     sync.Mutex
	last   map[string]time.Time
}

// NewDebouncer returns a Debouncer with the given window; zero or less
// means DefaultDebounce.
func NewDebouncer(window time.Duration) *Debouncer {
	if window <= 0 {
		window = DefaultDebounce
	}
	return &Debouncer{window: window, last: make(map[string]time.Time)}
}

// Allow reports whether t is a new tap (true) or a duplicate (false).
func (d *Debouncer) Allow(t Tap) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	key := string(t.Tech) + "/" + t.UID
	prev, seen := d.last[key]
	d.last[key] = t.ReadAt
	if len(d.last) > 256 { // forget badges long gone
		for k, at := range d.last {
			if t.ReadAt.Sub(at) >= d.window {
				delete(d.last, k)
			}
		}
	}
	if !seen {
		return true
	}
	age := t.ReadAt.Sub(prev)
	return age >= d.window || age < 0
}
