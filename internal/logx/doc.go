// Package logx sets up dataman's log/slog logger and carries it in the
// context: plain text on stderr, without timestamps under journald (which
// stamps every line itself).
package logx
