package engine

import "strings"

// shellQuote single-quotes s for a POSIX shell, as crunch-run's callers
// do: ' becomes '\”.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// startCommand is the crunch-run --detach command line of §5.2: the
// runtime engine and CrunchRunArgumentsList, each quoted, then the UUID.
func (e *Engine) startCommand(uuid string) string {
	var b strings.Builder
	b.WriteString(e.runner)
	b.WriteString(" --detach --stdin-config ")
	b.WriteString(shellQuote("--runtime-engine=" + e.cfg.Containers.RuntimeEngine))
	for _, arg := range e.cfg.Containers.CrunchRunArgumentsList {
		b.WriteByte(' ')
		b.WriteString(shellQuote(arg))
	}
	b.WriteByte(' ')
	b.WriteString(shellQuote(uuid))
	return b.String()
}

// killCommand sends SIGTERM (15) through crunch-run --kill; SIGKILL is
// never sent, because it would orphan docker and arv-mount.
func (e *Engine) killCommand(uuid string) string {
	return e.runner + " --kill 15 " + uuid
}

func (e *Engine) listCommand() string { return e.listCmd }

func (e *Engine) bootCommand() string { return e.bootCmd }

// buildCommands fixes the probe commands once: they are sent to every
// VM every ProbeInterval.
func (e *Engine) buildCommands() {
	e.listCmd = e.runner + " --list"
	e.bootCmd = e.cfg.Containers.CloudVMs.BootProbeCommand
	if e.bootCmd == "" {
		e.bootCmd = "true"
	}
}

// InitCommand is the instance init script: it writes the instance secret
// where the identity check reads it, then runs InstanceInitCommand.
func InitCommand(secret, extra string) string {
	return "umask 0177 && echo -n \"" + secret + "\" >/var/run/arvados-instance-secret\n" + extra
}
