// Package mailtest runs a real SMTP server (github.com/emersion/go-smtp) on
// loopback for tests and records what it receives.
package mailtest

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one message the server accepted.
type Received struct {
	From    string
	To      []string
	Subject string // decoded
	Text    string // decoded body
	Raw     []byte
	User    string // authenticated user, if any
}

// Server is a running SMTP listener.
type Server struct {
	Addr     string
	User     string // when set, AUTH PLAIN is required with Password
	Password string

	mu   sync.Mutex
	msgs []Received
	cond chan struct{}
}

// Start starts a server on 127.0.0.1, stopped when the test ends. With user
// set, clients must authenticate with AUTH PLAIN.
func Start(t testing.TB, user, password string) *Server {
	t.Helper()
	s := &Server{User: user, Password: password, cond: make(chan struct{})}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// Messages returns what was received so far.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

// Wait waits until at least n messages arrived (or fails the test after 10 s).
func (s *Server) Wait(t testing.TB, n int) []Received {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		if len(s.msgs) >= n {
			m := append([]Received(nil), s.msgs...)
			s.mu.Unlock()
			return m
		}
		c := s.cond
		s.mu.Unlock()
		select {
		case <-c:
		case <-deadline:
			t.Fatalf("SMTP server received %d messages, want %d", len(s.Messages()), n)
		}
	}
}

// Last returns the last message sent to addr, or fails the test.
func (s *Server) Last(t testing.TB, addr string) Received {
	t.Helper()
	msgs := s.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		for _, to := range msgs[i].To {
			if strings.EqualFold(to, addr) {
				return msgs[i]
			}
		}
	}
	t.Fatalf("no message to %s among %d", addr, len(msgs))
	return Received{}
}

func (s *Server) add(r Received) {
	s.mu.Lock()
	s.msgs = append(s.msgs, r)
	close(s.cond)
	s.cond = make(chan struct{})
	s.mu.Unlock()
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s    *Server
	user string
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != ss.s.User || pass != ss.s.Password {
			return errors.New("invalid credentials")
		}
		ss.user = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.User != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	rec := Received{From: ss.from, To: ss.to, Raw: raw, User: ss.user}
	if m, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		dec := new(mime.WordDecoder)
		rec.Subject, _ = dec.DecodeHeader(m.Header.Get("Subject"))
		body := m.Body
		if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(body)
		}
		b, _ := io.ReadAll(body)
		rec.Text = strings.ReplaceAll(string(b), "\r\n", "\n")
	}
	ss.s.add(rec)
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }
