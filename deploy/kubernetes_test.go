package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/leakstop/leakstop/rules"
	"github.com/leakstop/leakstop/scanner"
)

// node walks decoded YAML: get("spec", "jobTemplate", …) fails the test
// with the path when a key is missing or a value has another type.
type node struct {
	t    *testing.T
	path string
	v    any
}

func (n node) get(keys ...any) node {
	n.t.Helper()
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := n.v.(map[string]any)
			if !ok {
				n.t.Fatalf("%s is %T, not a mapping (looking for %q)", n.path, n.v, k)
			}
			v, ok := m[k]
			if !ok {
				n.t.Fatalf("%s has no %q", n.path, k)
			}
			n = node{n.t, n.path + "." + k, v}
		case int:
			s, ok := n.v.([]any)
			if !ok || k >= len(s) {
				n.t.Fatalf("%s is %T, not a list with an element %d", n.path, n.v, k)
			}
			n = node{n.t, fmt.Sprintf("%s[%d]", n.path, k), s[k]}
		}
	}
	return n
}

func (n node) has(key string) bool {
	m, ok := n.v.(map[string]any)
	_, has := m[key]
	return ok && has
}

func (n node) str() string {
	n.t.Helper()
	s, ok := n.v.(string)
	if !ok {
		n.t.Fatalf("%s is %T (%v), not a string", n.path, n.v, n.v)
	}
	return s
}

func (n node) num() int {
	n.t.Helper()
	i, ok := n.v.(int)
	if !ok {
		n.t.Fatalf("%s is %T (%v), not an integer", n.path, n.v, n.v)
	}
	return i
}

func (n node) list() []node {
	n.t.Helper()
	s, ok := n.v.([]any)
	if !ok {
		n.t.Fatalf("%s is %T, not a list", n.path, n.v)
	}
	out := make([]node, len(s))
	for i, v := range s {
		out[i] = node{n.t, fmt.Sprintf("%s[%d]", n.path, i), v}
	}
	return out
}

// named returns the element of a list of mappings whose "name" is name.
func (n node) named(name string) node {
	n.t.Helper()
	for _, e := range n.list() {
		if e.has("name") && e.get("name").str() == name {
			return e
		}
	}
	n.t.Fatalf("%s has no element named %q", n.path, name)
	return node{}
}

// decodeAll reads every YAML document of path.
func decodeAll(t *testing.T, path string) []node {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []node
	for {
		var v map[string]any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("parse %s: %v", path, err)
		}
		if v != nil {
			docs = append(docs, node{t, filepath.Base(path), v})
		}
	}
}

// literalSecret matches what must never be written into a deployment
// file: GitHub tokens, private keys, a DSN with a real-looking password.
var literalSecret = regexp.MustCompile(`gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|-----BEGIN [A-Z ]*PRIVATE KEY-----|postgres(ql)?://[^:/\s]+:([^@\s]+)@`)

// checkNoSecrets fails if data holds a literal secret: by the patterns
// above (a DSN's password may only be the placeholder PASSWORD) and by
// leakstop's own detector.
func checkNoSecrets(t *testing.T, name string, data []byte) {
	t.Helper()
	for _, m := range literalSecret.FindAllSubmatch(data, -1) {
		if len(m[2]) > 0 && string(m[2]) == "PASSWORD" {
			continue
		}
		t.Errorf("%s holds what looks like a literal secret: %.12q…", name, m[0])
	}
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	d, err := scanner.NewDetector(set)
	if err != nil {
		t.Fatal(err)
	}
	if hits := d.Hits(data); len(hits) > 0 {
		t.Errorf("%s: leakstop finds %d credential(s) in it", name, len(hits))
	}
}

// TestKubernetesCronJob checks the CronJob of deploy/kubernetes: an
// Indexed Job of N pods, one round per Job from the downward API, the DSN
// and the GitHub App key from a Secret (env and a read-only mount), the
// 512 MiB memory bound, exit codes mapped so that findings are not
// retried, and no literal credential.
func TestKubernetesCronJob(t *testing.T) {
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no deploy/kubernetes/*.yaml: %v", err)
	}
	var cron *node
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkNoSecrets(t, f, b)
		for _, doc := range decodeAll(t, f) {
			if doc.get("kind").str() == "CronJob" {
				cron = &doc
			}
		}
	}
	if cron == nil {
		t.Fatal("no CronJob in deploy/kubernetes")
	}
	c := *cron
	if got := c.get("apiVersion").str(); got != "batch/v1" {
		t.Errorf("apiVersion = %q, want batch/v1", got)
	}
	if c.get("spec", "schedule").str() == "" {
		t.Error("no schedule")
	}
	if got := c.get("spec", "concurrencyPolicy").str(); got != "Forbid" {
		t.Errorf("concurrencyPolicy = %q, want Forbid (two rounds at once)", got)
	}
	job := c.get("spec", "jobTemplate", "spec")
	if got := job.get("completionMode").str(); got != "Indexed" {
		t.Errorf("completionMode = %q, want Indexed", got)
	}
	completions, parallelism := job.get("completions").num(), job.get("parallelism").num()
	if completions != parallelism || completions < 2 {
		t.Errorf("completions = %d, parallelism = %d: want equal, at least 2 workers", completions, parallelism)
	}
	if job.get("backoffLimitPerIndex").num() < 1 {
		t.Error("backoffLimitPerIndex < 1: a crashed worker is not replaced")
	}
	var failIndexOn2 bool
	for _, r := range job.get("podFailurePolicy", "rules").list() {
		if r.has("onExitCodes") && r.get("action").str() == "FailIndex" {
			oc := r.get("onExitCodes")
			vals := oc.get("values").list()
			failIndexOn2 = oc.get("operator").str() == "In" && len(vals) == 1 && vals[0].num() == 2 &&
				oc.get("containerName").str() == "leakstop"
		}
		if r.has("onExitCodes") && slices.ContainsFunc(r.get("onExitCodes", "values").list(), func(v node) bool { return v.num() == 1 }) {
			t.Errorf("%s acts on exit 1 (findings): it must succeed, not be retried", r.path)
		}
	}
	if !failIndexOn2 {
		t.Error("no podFailurePolicy rule FailIndex on exit 2 of container leakstop")
	}
	pod := job.get("template", "spec")
	if got := pod.get("restartPolicy").str(); got != "Never" {
		t.Errorf("restartPolicy = %q, want Never (podFailurePolicy requires it)", got)
	}
	if pod.get("securityContext", "runAsNonRoot").v != true {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	if pod.get("automountServiceAccountToken").v != false {
		t.Error("the pod mounts a service account token it does not need")
	}
	ctr := pod.get("containers").named("leakstop")
	if got := ctr.get("resources", "limits", "memory").str(); got != "512Mi" {
		t.Errorf("memory limit = %q, want 512Mi", got)
	}
	if ctr.get("securityContext", "readOnlyRootFilesystem").v != true || ctr.get("securityContext", "allowPrivilegeEscalation").v != false {
		t.Error("container securityContext: want readOnlyRootFilesystem true, allowPrivilegeEscalation false")
	}

	env := ctr.get("env")
	dsn := env.named("LEAKSTOP_STATE").get("valueFrom", "secretKeyRef")
	if dsn.get("name").str() == "" || dsn.get("key").str() == "" {
		t.Error("LEAKSTOP_STATE's secretKeyRef lacks name or key")
	}
	round := env.named("LEAKSTOP_ROUND").get("valueFrom", "fieldRef", "fieldPath").str()
	if round != "metadata.labels['batch.kubernetes.io/job-name']" {
		t.Errorf("LEAKSTOP_ROUND from %q, want the pod's job-name label", round)
	}
	for _, e := range env.list() {
		if e.has("value") && literalSecret.MatchString(e.get("value").str()) {
			t.Errorf("%s has a literal secret value", e.path)
		}
	}

	var script strings.Builder
	for _, part := range append(ctr.get("command").list(), ctr.get("args").list()...) {
		script.WriteString(part.str() + " ")
	}
	cmd := script.String()
	for _, want := range []string{"leakstop org scan", `--round "$LEAKSTOP_ROUND"`, "--cache /cache", "--workers"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("the command lacks %q: %s", want, cmd)
		}
	}
	if strings.Contains(cmd, "--state") {
		t.Errorf("the command line names the state (the DSN holds a password): %s", cmd)
	}
	if !regexp.MustCompile(`if \[ "\$rc" -eq 1 \]; then exit 0; fi`).MatchString(cmd) {
		t.Errorf("exit 1 (findings) is not mapped to success: %s", cmd)
	}

	// The App key: a file under a read-only mount of a Secret volume.
	m := regexp.MustCompile(`--app-key-file (\S+)`).FindStringSubmatch(cmd)
	if m == nil {
		t.Fatalf("no --app-key-file in %s", cmd)
	}
	var keyMount node
	for _, vm := range ctr.get("volumeMounts").list() {
		if strings.HasPrefix(m[1], vm.get("mountPath").str()+"/") {
			keyMount = vm
		}
	}
	if keyMount.t == nil {
		t.Fatalf("--app-key-file %s is on no volume mount", m[1])
	}
	if keyMount.get("readOnly").v != true {
		t.Errorf("%s is not readOnly", keyMount.path)
	}
	vol := pod.get("volumes").named(keyMount.get("name").str())
	if vol.get("secret", "secretName").str() == "" {
		t.Errorf("%s is not a Secret volume", vol.path)
	}
	if mode := vol.get("secret", "defaultMode").num(); mode != 0o440 && mode != 0o400 {
		t.Errorf("the key file's mode is %#o, want 0440 (group fsGroup) or 0400", mode)
	}
	cache := pod.get("volumes").named(ctr.get("volumeMounts").named("cache").get("name").str())
	if !cache.has("emptyDir") && !cache.has("persistentVolumeClaim") {
		t.Errorf("the cache volume is neither emptyDir nor a PVC: %v", cache.v)
	}
}
