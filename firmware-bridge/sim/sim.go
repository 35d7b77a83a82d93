// Package sim provides virtual badge readers on pseudo-terminals, for
// `tartine-bridge simulate`, the demo and tests. A virtual reader owns the
// master side of a pty pair; the bridge opens the tty path as it would open a
// USB serial reader.
package sim

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"tartine/firmware-bridge/fwproto"
)

// Format is the byte format a virtual reader emits.
type Format string

// Supported formats.
const (
	FormatRDM6300 Format = "rdm6300"  // STX, 10 hex, 2 hex XOR checksum, ETX
	FormatID12LA  Format = "id12la"   // as rdm6300 with CR LF before ETX
	FormatEM18    Format = "em18"     // 10 hex, 2 hex checksum, no STX/ETX
	FormatLineHex Format = "line-hex" // upper-case hex UID, CR LF
	FormatLineDec Format = "line-dec" // 10 decimal digits (last 4 UID bytes), CR LF
	FormatTartine Format = "tartine"  // Tartine firmware protocol (fwproto), with acks and resends
)

// Formats lists the supported formats.
func Formats() []Format {
	return []Format{FormatRDM6300, FormatID12LA, FormatEM18, FormatLineHex, FormatLineDec, FormatTartine}
}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats() {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, 0, 6)
	for _, f := range Formats() {
		names = append(names, string(f))
	}
	return "", fmt.Errorf("sim: unknown reader format %q (want one of %s)", s, strings.Join(names, ", "))
}

// Encode returns the bytes a reader of a stateless format sends for uid.
// EM4100 formats need a 5-byte uid. FormatTartine is stateful: use Reader.
func Encode(f Format, uid []byte) ([]byte, error) {
	em := func() (string, error) {
		if len(uid) != 5 {
			return "", fmt.Errorf("sim: %s needs a 5-byte uid, got %d bytes", f, len(uid))
		}
		var x byte
		for _, b := range uid {
			x ^= b
		}
		return strings.ToUpper(hex.EncodeToString(uid)) + fmt.Sprintf("%02X", x), nil
	}
	switch f {
	case FormatRDM6300:
		s, err := em()
		return []byte("\x02" + s + "\x03"), err
	case FormatID12LA:
		s, err := em()
		return []byte("\x02" + s + "\r\n\x03"), err
	case FormatEM18:
		s, err := em()
		return []byte(s), err
	case FormatLineHex:
		if len(uid) == 0 {
			return nil, errors.New("sim: empty uid")
		}
		return []byte(strings.ToUpper(hex.EncodeToString(uid)) + "\r\n"), nil
	case FormatLineDec:
		if len(uid) < 4 {
			return nil, fmt.Errorf("sim: line-dec needs at least 4 uid bytes, got %d", len(uid))
		}
		u := uid[len(uid)-4:]
		v := uint32(u[0])<<24 | uint32(u[1])<<16 | uint32(u[2])<<8 | uint32(u[3])
		return fmt.Appendf(nil, "%010d\r\n", v), nil
	}
	return nil, fmt.Errorf("sim: format %q is not stateless", f)
}

// Options tune a virtual reader. The zero value is usable.
type Options struct {
	// Window is how many unacknowledged reads a tartine reader keeps before
	// Tap blocks (default 32), as a real firmware's small queue would.
	Window int
	// Resend is how long a tartine reader waits for an ack before it sends a
	// read again (default 500 ms).
	Resend time.Duration
	// Boot is the firmware boot number; random when 0.
	Boot uint32
	// Heartbeat is how often a tartine reader sends its heartbeat (default
	// 1 s, as the firmware); negative: never, as a reader that stopped
	// answering.
	Heartbeat time.Duration
}

// Reader is a virtual reader on a pty. It is safe for concurrent use.
type Reader struct {
	format Format
	opts   Options
	master *os.File
	tty    *os.File // kept open so the pty never hangs up between bridge runs
	path   string

	wmu sync.Mutex // serialises writes to master

	mu        sync.Mutex
	seq       uint32
	pending   map[uint32]*pendingRead
	acked     int
	feedbacks map[fwproto.Level]int
	texts     []string
	window    chan struct{}

	done chan struct{}
	wg   sync.WaitGroup
}

type pendingRead struct {
	frame []byte
	sent  time.Time
}

// Open creates a virtual reader emitting format f.
func Open(f Format, opts Options) (*Reader, error) {
	if opts.Window <= 0 {
		opts.Window = 32
	}
	if opts.Resend <= 0 {
		opts.Resend = 500 * time.Millisecond
	}
	if opts.Boot == 0 {
		opts.Boot = rand.Uint32() | 1
	}
	if opts.Heartbeat == 0 {
		opts.Heartbeat = time.Second
	}
	master, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("sim: open pty: %w", err)
	}
	// pty.Open leaves the master in blocking mode (it calls Fd), so a Read
	// would not be interrupted by Close. Re-wrap a non-blocking duplicate so
	// the runtime poller owns it.
	if master, err = pollable(master); err != nil {
		tty.Close()
		return nil, fmt.Errorf("sim: pty master: %w", err)
	}
	if err := makeRaw(tty); err != nil {
		master.Close()
		tty.Close()
		return nil, fmt.Errorf("sim: raw mode on %s: %w", tty.Name(), err)
	}
	r := &Reader{
		format:    f,
		opts:      opts,
		master:    master,
		tty:       tty,
		path:      tty.Name(),
		pending:   make(map[uint32]*pendingRead),
		feedbacks: make(map[fwproto.Level]int),
		window:    make(chan struct{}, opts.Window),
		done:      make(chan struct{}),
	}
	if f == FormatTartine {
		r.wg.Add(2)
		go r.readLoop()
		go r.resendLoop()
		if opts.Heartbeat > 0 {
			r.wg.Add(1)
			go r.heartbeatLoop(time.Now())
		}
	} else {
		// Drain anything the bridge might write so it never blocks.
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			_, _ = io.Copy(io.Discard, master)
		}()
	}
	return r, nil
}

func pollable(f *os.File) (*os.File, error) {
	defer f.Close()
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	unix.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// makeRaw puts the tty side in raw mode before any bridge opens it, so bytes
// written while no bridge runs are not altered by the line discipline.
func makeRaw(tty *os.File) error {
	fd := int(tty.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// Path is the tty path a bridge opens (e.g. /dev/pts/5).
func (r *Reader) Path() string { return r.path }

// Format is the reader's format.
func (r *Reader) Format() Format { return r.format }

func (r *Reader) write(b []byte) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	_, err := r.master.Write(b)
	return err
}

// WriteRaw writes bytes as they are (noise, torn frames) to the reader line.
func (r *Reader) WriteRaw(b []byte) error { return r.write(b) }

// Tap emits one read of uid. A tartine reader blocks while its window of
// unacknowledged reads is full and resends each read until it is acked.
func (r *Reader) Tap(ctx context.Context, uid []byte) error {
	if r.format != FormatTartine {
		b, err := Encode(r.format, uid)
		if err != nil {
			return err
		}
		return r.write(b)
	}
	if len(uid) == 0 || len(uid) > fwproto.MaxUID {
		return fmt.Errorf("sim: uid of %d bytes out of range 1..%d", len(uid), fwproto.MaxUID)
	}
	select {
	case r.window <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-r.done:
		return errors.New("sim: reader closed")
	}
	tech := fwproto.TechISO14443A
	if len(uid) == 5 {
		tech = fwproto.TechEM4100
	}
	r.mu.Lock()
	r.seq++
	seq := r.seq
	frame, err := fwproto.Marshal(fwproto.CardRead{Boot: r.opts.Boot, Seq: seq, Tech: tech, UID: uid})
	if err != nil {
		r.mu.Unlock()
		<-r.window
		return err
	}
	r.pending[seq] = &pendingRead{frame: frame, sent: time.Now()}
	r.mu.Unlock()
	return r.write(frame)
}

// Flush waits until every read has been acknowledged (tartine) or returns at
// once (other formats).
func (r *Reader) Flush(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		r.mu.Lock()
		n := len(r.pending)
		r.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sim: %d reads not acknowledged: %w", n, ctx.Err())
		case <-t.C:
		}
	}
}

// Counts reports what the bridge sent back to a tartine reader.
type Counts struct {
	Sent      uint32 // reads emitted
	Pending   int    // reads not acknowledged yet
	Acked     int    // acks received for pending reads
	Feedbacks map[fwproto.Level]int
	Texts     []string // display lines received, oldest first (last 100)
}

// Counts returns a snapshot of the reader's counters.
func (r *Reader) Counts() Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := Counts{Sent: r.seq, Pending: len(r.pending), Acked: r.acked, Feedbacks: make(map[fwproto.Level]int)}
	for k, v := range r.feedbacks {
		c.Feedbacks[k] = v
	}
	c.Texts = append(c.Texts, r.texts...)
	return c
}

func (r *Reader) readLoop() {
	defer r.wg.Done()
	var dec fwproto.Decoder
	buf := make([]byte, 512)
	for {
		n, err := r.master.Read(buf)
		if n > 0 {
			dec.Feed(buf[:n])
			for {
				m, err := dec.Next()
				if errors.Is(err, fwproto.ErrShort) {
					break
				}
				if err != nil {
					continue
				}
				r.handle(m)
			}
		}
		if err != nil {
			return
		}
	}
}

func (r *Reader) handle(m fwproto.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch m := m.(type) {
	case fwproto.Ack:
		if m.Boot != r.opts.Boot {
			return
		}
		if _, ok := r.pending[m.Seq]; ok {
			delete(r.pending, m.Seq)
			r.acked++
			<-r.window
		}
	case fwproto.Feedback:
		r.feedbacks[m.Level]++
	case fwproto.Display:
		r.texts = append(r.texts, m.Text)
		if len(r.texts) > 100 {
			r.texts = r.texts[1:]
		}
	}
}

func (r *Reader) resendLoop() {
	defer r.wg.Done()
	t := time.NewTicker(r.opts.Resend / 2)
	defer t.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-t.C:
		}
		now := time.Now()
		var frames [][]byte
		r.mu.Lock()
		seqs := make([]uint32, 0, len(r.pending))
		for seq, p := range r.pending {
			if now.Sub(p.sent) >= r.opts.Resend {
				seqs = append(seqs, seq)
			}
		}
		slices.Sort(seqs) // resend in read order, as the firmware does
		for _, seq := range seqs {
			p := r.pending[seq]
			p.sent = now
			frames = append(frames, p.frame)
		}
		r.mu.Unlock()
		for _, f := range frames {
			if err := r.write(f); err != nil {
				return
			}
		}
	}
}

// heartbeatLoop sends a heartbeat every opts.Heartbeat, as the firmware does.
func (r *Reader) heartbeatLoop(booted time.Time) {
	defer r.wg.Done()
	t := time.NewTicker(r.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-t.C:
		}
		frame, err := fwproto.Marshal(fwproto.Heartbeat{Boot: r.opts.Boot, Uptime: time.Since(booted).Truncate(time.Millisecond), Firmware: "sim"})
		if err != nil {
			return
		}
		if err := r.write(frame); err != nil {
			return
		}
	}
}

// Close removes the virtual reader (the bridge sees an unplug).
func (r *Reader) Close() error {
	select {
	case <-r.done:
		return nil
	default:
	}
	close(r.done)
	err := r.master.Close()
	r.tty.Close()
	r.wg.Wait()
	return err
}
