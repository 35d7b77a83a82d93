package statements

import "log/slog"

// Option sets a dependency of a Service at construction (New), so that
// nothing is patched into it afterwards.
type Option func(*Service)

// WithMail sends the statement and estimate emails with m (nil: log them).
func WithMail(m Sender) Option { return func(s *Service) { s.Mail = m } }

// WithLog records what could not be sent in l (default slog.Default()).
func WithLog(l *slog.Logger) Option {
	return func(s *Service) {
		if l != nil {
			s.Log = l
		}
	}
}
