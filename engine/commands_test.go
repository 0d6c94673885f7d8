package engine

import (
	"regexp"
	"testing"
)

// TestStartCommand: the crunch-run --detach command line of §5.2, with
// the runtime engine and every argument single-quoted, as the Arvados
// stub driver expects it.
func TestStartCommand(t *testing.T) {
	h := newHarness(t, testConfig(1))
	uuid := ctrUUID(1)
	want := `crunch-run --detach --stdin-config '--runtime-engine=stub' '--foo' '--extra='\''args'\''' '` + uuid + `'`
	expect(t, "startCommand", want, h.e.startCommand(uuid))

	// The same line reaches the VM through StartContainer.
	h.addVM("vm1", "type1", IdleRun)
	h.startup()
	h.addCtr(testCtr(1, Locked, 1, 1, gib))
	expect(t, "StartContainer", []StartContainer{{
		VM: "vm1", UUID: uuid, Command: want, Type: h.cfg.InstanceTypes["type1"], TypeName: "type1",
	}}, actionsOf[StartContainer](h.poll()))
}

// TestCommandsUseRunnerCommand: a deployed crunch-run binary replaces
// CrunchRunCommand in every command; the kill command sends SIGTERM
// (15), never SIGKILL.
func TestCommandsUseRunnerCommand(t *testing.T) {
	const uuid = "zzzzz-dz642-000000000000001"
	for _, tc := range []struct {
		runner, start, kill, list string
	}{
		{
			runner: "",
			start:  `crunch-run --detach --stdin-config '--runtime-engine=stub' '--foo' '--extra='\''args'\''' '` + uuid + `'`,
			kill:   "crunch-run --kill 15 " + uuid,
			list:   "crunch-run --list",
		},
		{
			runner: "/tmp/arvados-crunch-run/crunch-run~0123456789abcdef",
			start:  `/tmp/arvados-crunch-run/crunch-run~0123456789abcdef --detach --stdin-config '--runtime-engine=stub' '--foo' '--extra='\''args'\''' '` + uuid + `'`,
			kill:   "/tmp/arvados-crunch-run/crunch-run~0123456789abcdef --kill 15 " + uuid,
			list:   "/tmp/arvados-crunch-run/crunch-run~0123456789abcdef --list",
		},
	} {
		e, err := New(testConfig(1), Options{Entropy: zeroReader{}, RunnerCommand: tc.runner})
		if err != nil {
			t.Fatal(err)
		}
		expect(t, "start", tc.start, e.startCommand(uuid))
		expect(t, "kill", tc.kill, e.killCommand(uuid))
		expect(t, "list", tc.list, e.listCommand())
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestCommandsOnTheWire: the kill and list commands as the engine sends
// them in SignalContainer and ProbeVM.
func TestCommandsOnTheWire(t *testing.T) {
	h := newHarness(t, testConfig(1))
	h.addVM("vm1", "type1", IdleRun, ctrUUID(1))
	h.addCtr(testCtr(1, Running, 1, 1, gib))
	h.startup()
	for _, p := range actionsOf[ProbeVM](h.since(0)) {
		expect(t, "list command", "crunch-run --list", p.ListCommand)
	}
	sigs := actionsOf[SignalContainer](h.step(KillContainer{UUID: ctrUUID(1)}))
	if len(sigs) != 1 {
		t.Fatalf("signals: %v", sigs)
	}
	expect(t, "kill command", "crunch-run --kill 15 "+ctrUUID(1), sigs[0].Command)
}

// TestBootCommand: BootProbeCommand is run as-is; empty means "true".
func TestBootCommand(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{"systemctl is-system-running", "systemctl is-system-running"},
		{"docker ps -q", "docker ps -q"},
		{"", "true"},
	} {
		cfg := testConfig(1)
		cfg.Containers.CloudVMs.BootProbeCommand = tc.cfg
		h := newHarness(t, cfg)
		h.addVM("vm1", "type1", IdleRun)
		h.step()
		h.settle()
		h.advance(cfg.Containers.CloudVMs.ProbeInterval)
		probes := actionsOf[ProbeVM](h.step())
		if len(probes) != 1 {
			t.Fatalf("probes: %v", probes)
		}
		expect(t, "boot command for "+tc.cfg, tc.want, probes[0].BootCommand)
	}
}

// TestInitCommand: the instance init script writes the secret where the
// identity check reads it, then runs InstanceInitCommand (§5.2).
func TestInitCommand(t *testing.T) {
	expect(t, "InitCommand", "umask 0177 && echo -n \"0123abcd\" >/var/run/arvados-instance-secret\n", InitCommand("0123abcd", ""))
	expect(t, "InitCommand with extra",
		"umask 0177 && echo -n \"0123abcd\" >/var/run/arvados-instance-secret\nmount /dev/xvdt /tmp\nsystemctl start docker",
		InitCommand("0123abcd", "mount /dev/xvdt /tmp\nsystemctl start docker"))

	// CreateVM carries a fresh 40-hex-digit secret, in its init command
	// and its tags, with the ResourceTags and our instance set.
	cfg := testConfig(1)
	cfg.Containers.CloudVMs.InstanceInitCommand = "echo hello"
	h := newHarness(t, cfg)
	h.startup()
	h.addCtr(testCtr(1, Locked, 1, 1, gib), testCtr(2, Locked, 1, 1, gib))
	creates := actionsOf[CreateVM](h.poll())
	if len(creates) != 2 {
		t.Fatalf("creates: %v", creates)
	}
	if creates[0].Secret == creates[1].Secret {
		t.Errorf("two creates with the same secret %q", creates[0].Secret)
	}
	for _, c := range creates {
		if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(c.Secret) {
			t.Errorf("secret %q is not 40 hex digits", c.Secret)
		}
		expect(t, "init command", InitCommand(c.Secret, "echo hello"), c.InitCommand)
		expect(t, "tags", map[string]string{
			"testtag":               "test value",
			"ArvadosInstanceSetID":  testSetID,
			"ArvadosInstanceType":   "type1",
			"ArvadosIdleBehavior":   "run",
			"ArvadosInstanceSecret": c.Secret,
		}, c.Tags)
	}
}

// TestShellQuote: single quotes as POSIX shells read them.
func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":                `''`,
		"abc":             `'abc'`,
		"it's":            `'it'\''s'`,
		"'":               `''\'''`,
		"$HOME `x` \\ \"": `'$HOME ` + "`x`" + ` \ "'`,
	} {
		expect(t, "shellQuote("+in+")", want, shellQuote(in))
	}
}
