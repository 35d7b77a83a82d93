// Package mail sends Tartine's emails (password reset, invitation reminder,
// low balance, top-up received, booking confirmation) over SMTP, rendered
// from embedded French and English templates.
//
// The SMTP server is configured by environment (ConfigFromEnv): SMTP_ADDR
// (host:port), SMTP_FROM, SMTP_USER, SMTP_PASSWORD and SMTP_TLS (starttls,
// tls or none; default none on loopback, tls on port 465, starttls
// otherwise). Without SMTP_ADDR, callers use a LogSender that writes each
// message to the log (the demo).
package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one email to send: plain UTF-8 text.
type Message struct {
	To      string
	Subject string
	Text    string
}

// ErrAddress is returned when an address (From or To) is not a valid email
// address.
var ErrAddress = errors.New("mail: invalid address")

// TLS modes.
const (
	TLSNone     = "none"
	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
)

// Config is the SMTP configuration.
type Config struct {
	Addr     string // host:port
	From     string // "Tartine <noreply@ecole.be>"
	User     string // empty: no authentication
	Password string
	TLS      string        // TLSNone, TLSStartTLS or TLSImplicit
	Timeout  time.Duration // whole conversation (default 30 s)
	// TLSConfig overrides the TLS client configuration (tests).
	TLSConfig *tls.Config
}

// ConfigFromEnv reads SMTP_ADDR, SMTP_FROM, SMTP_USER, SMTP_PASSWORD and
// SMTP_TLS. ok is false when SMTP_ADDR is empty (mail disabled).
func ConfigFromEnv(getenv func(string) string) (cfg Config, ok bool, err error) {
	cfg = Config{
		Addr:     strings.TrimSpace(getenv("SMTP_ADDR")),
		From:     strings.TrimSpace(getenv("SMTP_FROM")),
		User:     getenv("SMTP_USER"),
		Password: getenv("SMTP_PASSWORD"),
		TLS:      strings.ToLower(strings.TrimSpace(getenv("SMTP_TLS"))),
	}
	if cfg.Addr == "" {
		return cfg, false, nil
	}
	if cfg.From == "" {
		return cfg, true, fmt.Errorf("mail: SMTP_ADDR is set but SMTP_FROM is empty")
	}
	return cfg, true, cfg.Validate()
}

// Validate checks the configuration and fills the TLS default.
func (c *Config) Validate() error {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("mail: SMTP_ADDR %q: want host:port", c.Addr)
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return fmt.Errorf("mail: SMTP_FROM %q: %w", c.From, ErrAddress)
	}
	switch c.TLS {
	case "":
		switch {
		case port == "465":
			c.TLS = TLSImplicit
		case host == "localhost" || net.ParseIP(host) != nil && net.ParseIP(host).IsLoopback():
			c.TLS = TLSNone
		default:
			c.TLS = TLSStartTLS
		}
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return fmt.Errorf("mail: SMTP_TLS %q: want starttls, tls or none", c.TLS)
	}
	return nil
}

// SMTP sends messages to an SMTP server, one connection per message.
type SMTP struct {
	cfg Config
	now func() time.Time
}

// NewSMTP returns an SMTP sender. It returns an error when cfg is invalid.
func NewSMTP(cfg Config, now func() time.Time) (*SMTP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	return &SMTP{cfg: cfg, now: now}, nil
}

// Send delivers msg. It returns ErrAddress (wrapped) for a bad recipient.
func (s *SMTP) Send(ctx context.Context, msg Message) error {
	from, err := mail.ParseAddress(s.cfg.From)
	if err != nil {
		return fmt.Errorf("mail: from: %w", ErrAddress)
	}
	to, err := mail.ParseAddress(msg.To)
	if err != nil || strings.ContainsAny(msg.To, "\r\n") {
		return fmt.Errorf("mail: to %q: %w", msg.To, ErrAddress)
	}
	data, err := compose(from, to, msg, s.now())
	if err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(s.cfg.Addr)
	tlsCfg := s.cfg.TLSConfig
	if tlsCfg == nil {
		tlsCfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("mail: connect %s: %w", s.cfg.Addr, err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var c *smtp.Client
	switch s.cfg.TLS {
	case TLSImplicit:
		c = smtp.NewClient(tls.Client(conn, tlsCfg))
	case TLSStartTLS:
		c, err = smtp.NewClientStartTLS(conn, tlsCfg)
		if err != nil {
			conn.Close()
			return fmt.Errorf("mail: starttls %s: %w", s.cfg.Addr, err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	if s.cfg.User != "" {
		if err := c.Auth(sasl.NewPlainClient("", s.cfg.User, s.cfg.Password)); err != nil {
			return fmt.Errorf("mail: authenticate as %s: %w", s.cfg.User, err)
		}
	}
	if err := c.SendMail(from.Address, []string{to.Address}, strings.NewReader(data)); err != nil {
		return fmt.Errorf("mail: send to %s: %w", to.Address, err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("mail: quit: %w", err)
	}
	return nil
}

// compose builds the RFC 5322 message: UTF-8 text, quoted-printable.
func compose(from, to *mail.Address, msg Message, now time.Time) (string, error) {
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", fmt.Errorf("mail: message id: %w", err)
	}
	domain := "tartine.local"
	if _, d, ok := strings.Cut(from.Address, "@"); ok {
		domain = d
	}
	subject := strings.NewReplacer("\r", " ", "\n", " ").Replace(msg.Subject)
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\n", from.String())
	fmt.Fprintf(&b, "To: %s\r\n", to.String())
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", hex.EncodeToString(id[:]), domain)
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n")
	b.WriteString("Auto-Submitted: auto-generated\r\n\r\n")
	w := quotedprintable.NewWriter(&b)
	text := strings.ReplaceAll(strings.ReplaceAll(msg.Text, "\r\n", "\n"), "\n", "\r\n")
	if _, err := w.Write([]byte(text)); err != nil {
		return "", fmt.Errorf("mail: encode body: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("mail: encode body: %w", err)
	}
	b.WriteString("\r\n")
	return b.String(), nil
}

// LogSender writes messages to a logger instead of sending them (demo and
// development without SMTP_ADDR).
type LogSender struct{ Log *slog.Logger }

// Send logs msg.
func (l LogSender) Send(ctx context.Context, msg Message) error {
	l.Log.InfoContext(ctx, "email not sent (no SMTP_ADDR)", "to", msg.To, "subject", msg.Subject, "text", msg.Text)
	return nil
}
