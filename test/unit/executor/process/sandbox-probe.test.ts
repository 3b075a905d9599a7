/** Which isolation layer the process executor picks from what it found (executor/process/sandbox-probe.ts). */
import { describe, expect, it } from 'vitest';
import { chooseLayer, type SandboxFindings } from '../../../../src/executor/process/sandbox-probe.js';

const launcher = (landlockAbi: number, seccomp = true) => ({ landlockAbi, seccomp, noNewPrivs: true });
const findings = (overrides: Partial<SandboxFindings>): SandboxFindings => ({
  bwrap: false,
  bwrapError: 'bwrap: No permissions to create new namespace',
  launcher: launcher(6),
  launcherError: null,
  linkProblems: [],
  ...overrides,
});

describe('chooseLayer', () => {
  it('prefers bubblewrap where user namespaces work', () => {
    const report = chooseLayer(findings({ bwrap: true, bwrapError: null, launcher: launcher(7) }), false);
    expect(report.layer).toBe('bwrap');
    expect(report.userNamespaces).toBe(true);
  });

  it('uses Landlock + seccomp where namespaces are blocked (a Space), with TCP rules and signal scoping from ABI 4 and 6', () => {
    const report = chooseLayer(findings({ launcher: launcher(6) }), false);
    expect(report).toMatchObject({ layer: 'landlock', landlockAbi: 6, tcpRules: true, signalScoping: true });
    expect(report.summary).toBe('NO_NEW_PRIVS + Landlock ABI 6 + seccomp + rlimits');
  });

  it('names what an older Landlock lacks', () => {
    const report = chooseLayer(findings({ launcher: launcher(3) }), false);
    expect(report).toMatchObject({ layer: 'landlock', tcpRules: false, signalScoping: false });
    expect(report.summary).toContain('no TCP rules');
    expect(report.summary).toContain('no signal scoping');
  });

  it('refuses below Landlock + seccomp unless weak sandboxes are allowed, saying why', () => {
    const noSeccomp = findings({ launcher: { ...launcher(6, false), seccompError: "No module named 'seccomp'" } });
    const refused = chooseLayer(noSeccomp, false);
    expect(refused.layer).toBeNull();
    expect(refused.summary).toContain("seccomp: No module named 'seccomp'");
    expect(refused.summary).toContain('runs are refused');
    const weak = chooseLayer(noSeccomp, true);
    expect(weak.layer).toBe('weak');
    expect(weak.summary).toMatch(/^WEAK: /);
    expect(chooseLayer(findings({ launcher: launcher(0) }), false).summary).toContain('Landlock: not available');
  });

  it('needs the image links to the slot descriptors for Landlock, not for bubblewrap', () => {
    const linkProblems = ['/tmp is not a link to /proc/self/fd/8'];
    const refused = chooseLayer(findings({ linkProblems }), false);
    expect(refused.layer).toBeNull();
    expect(refused.summary).toContain("the image's links: /tmp is not a link to /proc/self/fd/8");
    expect(chooseLayer(findings({ bwrap: true, bwrapError: null, linkProblems }), false).layer).toBe('bwrap');
  });

  it('cannot run at all without its launcher, weak or not', () => {
    const report = chooseLayer(findings({ launcher: null, launcherError: 'python3: not found' }), true);
    expect(report.layer).toBeNull();
    expect(report.summary).toContain('launcher: python3: not found');
  });
});
