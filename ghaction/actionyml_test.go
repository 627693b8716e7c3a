package ghaction

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// yamlNode is a line-based reading of action.yml: enough to check its
// structure without a YAML library. Each key's children are the lines
// indented deeper below it.
type yamlLine struct {
	indent int
	text   string // without indentation
	no     int
}

func readActionYML(t *testing.T) []yamlLine {
	t.Helper()
	b, err := os.ReadFile("../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "\t") {
		t.Fatal("action.yml holds a tab")
	}
	var out []yamlLine
	for i, l := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimLeft(l, " ")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		out = append(out, yamlLine{indent: len(l) - len(trimmed), text: trimmed, no: i + 1})
	}
	return out
}

// section returns the lines below the key at lines[i].
func section(lines []yamlLine, i int) []yamlLine {
	var out []yamlLine
	for _, l := range lines[i+1:] {
		if l.indent <= lines[i].indent {
			break
		}
		out = append(out, l)
	}
	return out
}

func topSection(t *testing.T, lines []yamlLine, key string) []yamlLine {
	t.Helper()
	for i, l := range lines {
		if l.indent == 0 && l.text == key+":" {
			return section(lines, i)
		}
	}
	t.Fatalf("action.yml has no %s", key)
	return nil
}

// children maps each direct child key of a section to its value (the
// text after the colon) and its own lines.
func children(sec []yamlLine) (map[string]string, map[string][]yamlLine) {
	vals, subs := map[string]string{}, map[string][]yamlLine{}
	if len(sec) == 0 {
		return vals, subs
	}
	ind := sec[0].indent
	for i, l := range sec {
		if l.indent != ind {
			continue
		}
		k, v, _ := strings.Cut(l.text, ":")
		vals[k] = strings.TrimSpace(v)
		subs[k] = section(sec, i)
	}
	return vals, subs
}

func TestActionYMLInputsOutputs(t *testing.T) {
	lines := readActionYML(t)
	_, inputs := children(topSection(t, lines, "inputs"))
	want := map[string]string{
		"config": "''", "rules": "''", "fail-on-findings": "'true'", "verify": "'false'", "revoke": "'off'",
		"github-token": "${{ github.token }}", "comment": "'true'", "sarif": "'true'", "trust-pr-config": "'false'",
	}
	for name, def := range want {
		sub, ok := inputs[name]
		if !ok {
			t.Errorf("input %s is missing", name)
			continue
		}
		vals, _ := children(sub)
		if vals["default"] != def {
			t.Errorf("input %s: default %s, want %s", name, vals["default"], def)
		}
		if vals["description"] == "" {
			t.Errorf("input %s has no description", name)
		}
	}
	for name := range inputs {
		if _, ok := want[name]; !ok {
			t.Errorf("input %s is not known to this test", name)
		}
	}
	_, outputs := children(topSection(t, lines, "outputs"))
	for _, name := range []string{"findings", "pre-existing", "sarif", "report"} {
		vals, _ := children(outputs[name])
		if vals["value"] != "${{ steps.scan.outputs."+name+" }}" {
			t.Errorf("output %s: value %q", name, vals["value"])
		}
	}

	runs, _ := children(topSection(t, lines, "runs"))
	if runs["using"] != "composite" {
		t.Errorf("runs.using = %q", runs["using"])
	}
	yml, _ := os.ReadFile("../action.yml")
	text := string(yml)
	// Every input reaches the binary through the scan step's env, under
	// the name ReadInputs reads.
	for name := range want {
		envName := "INPUT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		line := envName + ": ${{ inputs." + name + " }}"
		if !strings.Contains(text, line) {
			t.Errorf("action.yml does not pass %q", line)
		}
		got := input(func(k string) string {
			if k == envName {
				return "x"
			}
			return ""
		}, name)
		if got != "x" {
			t.Errorf("ReadInputs does not read %s from %s", name, envName)
		}
	}
	for _, s := range []string{"${{ github.action_path }}/go.mod", "actions/setup-go@", "go build", "./cmd/leakstop",
		"github/codeql-action/upload-sarif@", "sarif_file: ${{ steps.scan.outputs.sarif }}", "inputs.sarif == 'true'",
		"id: scan", `"$LEAKSTOP_BIN" action`, "ghaction/install.sh", "ghaction/cachekey.sh", "actions/cache@"} {
		if !strings.Contains(text, s) {
			t.Errorf("action.yml lacks %q", s)
		}
	}
}

// No expression is expanded inside a run: script (script injection):
// inputs reach scripts only through env.
func TestActionYMLNoExpressionsInScripts(t *testing.T) {
	lines := readActionYML(t)
	expr := regexp.MustCompile(`\$\{\{`)
	runs := 0
	for i, l := range lines {
		rest, ok := strings.CutPrefix(strings.TrimPrefix(l.text, "- "), "run:")
		if !ok {
			continue
		}
		runs++
		script := []string{rest}
		// A block scalar (| or >) continues on deeper lines.
		for _, c := range section(lines, i) {
			script = append(script, c.text)
		}
		for _, s := range script {
			if expr.MatchString(s) {
				t.Errorf("action.yml line %d: a run: script holds an expression: %s", l.no, s)
			}
			if strings.Contains(s, "INPUT_") && strings.Contains(s, "echo") {
				t.Errorf("action.yml line %d: a script echoes an input", l.no)
			}
		}
	}
	if runs < 2 {
		t.Fatalf("found %d run: scripts, want the build and the scan", runs)
	}
}
