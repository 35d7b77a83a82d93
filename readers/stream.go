package readers

import (
	"context"
	"io"
	"time"
)

// readTimeouter is implemented by go.bug.st/serial ports.
type readTimeouter interface {
	SetReadTimeout(t time.Duration) error
}

// setReadTimeout bounds each port read to d when the port supports it, so a
// driver notices cancellation and silence. go.bug.st/serial then returns
// (0, nil) after d without data.
func setReadTimeout(port any, d time.Duration) error {
	if p, ok := port.(readTimeouter); ok {
		return p.SetReadTimeout(d)
	}
	return nil
}

// source reads a port chunk by chunk without ever spinning on (0, nil) reads.
type source struct {
	r    io.Reader
	idle time.Duration // read timeout; pause after a (0, nil) read that came back at once
	buf  [256]byte
	err  error // error returned together with data, reported on the next call
}

// read returns the next chunk of bytes, or (nil, nil) when the port had
// nothing to say (a read timeout). The chunk is valid until the next call.
// Errors are the port's (or the context's).
func (s *source) read(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.err != nil {
		return nil, s.err
	}
	start := time.Now()
	n, err := s.r.Read(s.buf[:])
	if n > 0 {
		s.err = err
		return s.buf[:n], nil
	}
	if err != nil {
		return nil, err
	}
	// (0, nil): no data yet. A serial port with a read timeout only returns
	// this after the timeout; anything faster would make us spin, so pause.
	if time.Since(start) < s.idle/2 {
		if err := sleepCtx(ctx, s.idle); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
