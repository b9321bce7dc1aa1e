package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// The configuration file is YAML restricted to one flat mapping whose keys
// are the flag names (dashes or underscores) and whose values are scalars
// or lists of scalars:
//
//	id: m1
//	http: 0.0.0.0:7101
//	join: [m1:7101, m2:7101, m3:7101]   # or a block list, or "a,b,c"
//
// Why YAML and not HCL: it is what the deploy targets speak (Kubernetes
// ConfigMaps, compose files, Ansible vars), a flat key: value file needs
// no schema, and HCL would be a new dependency. The subset is parsed here
// rather than by a YAML library because none is a direct dependency in
// go.mod; every file this parser accepts is valid YAML with the same
// meaning, so switching to a full parser later changes nothing for users.
//
// Precedence: a flag on the command line > SHEPHERD_<FLAG> > the file >
// the default.

// configFlags are the flags that control the configuration itself; they
// cannot appear in the file.
type configFlags struct {
	path  *string
	print *bool
}

func addConfigFlags(fs *flag.FlagSet) configFlags {
	return configFlags{
		path:  fs.String("config", "", "YAML configuration file (flat flag: value mapping); flags and SHEPHERD_* override it"),
		print: fs.Bool("print-config", false, "print the effective configuration as YAML and exit"),
	}
}

var selfFlags = map[string]bool{"config": true, "print-config": true}

// parseConfigured sets fs from the configuration file named by --config or
// SHEPHERD_CONFIG, then from the environment, then from args.
func parseConfigured(fs *flag.FlagSet, args []string) error {
	path := findConfigPath(args)
	if path != "" {
		if err := applyConfigFile(fs, path); err != nil {
			return err
		}
	}
	return parse(fs, args)
}

// findConfigPath pre-scans args for --config (the flag package cannot be
// asked before it parses everything), falling back to SHEPHERD_CONFIG.
func findConfigPath(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		name := strings.TrimLeft(a, "-")
		if len(a)-len(name) < 1 || len(a)-len(name) > 2 {
			continue
		}
		if v, ok := strings.CutPrefix(name, "config="); ok {
			return v
		}
		if name == "config" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return os.Getenv("SHEPHERD_CONFIG")
}

func applyConfigFile(fs *flag.FlagSet, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	entries, err := parseFlatYAML(string(raw))
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	for _, e := range entries {
		name := strings.ReplaceAll(e.key, "_", "-")
		f := fs.Lookup(name)
		if f == nil || selfFlags[name] {
			return fmt.Errorf("config %s:%d: unknown key %q (known: %s)", path, e.line, e.key, strings.Join(flagNames(fs), ", "))
		}
		if err := f.Value.Set(e.value); err != nil {
			return fmt.Errorf("config %s:%d: %s: %w", path, e.line, e.key, err)
		}
	}
	return nil
}

func flagNames(fs *flag.FlagSet) []string {
	var out []string
	fs.VisitAll(func(f *flag.Flag) {
		if !selfFlags[f.Name] {
			out = append(out, f.Name)
		}
	})
	return out
}

// printConfig writes every flag's effective value as a configuration file
// that parseConfigured reads back to the same values.
func printConfig(w io.Writer, fs *flag.FlagSet) error {
	var b strings.Builder
	b.WriteString("# effective configuration (command line > SHEPHERD_* > config file > default)\n")
	var flags []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if !selfFlags[f.Name] {
			flags = append(flags, f)
		}
	})
	sort.Slice(flags, func(i, j int) bool { return flags[i].Name < flags[j].Name })
	for _, f := range flags {
		v := f.Value.String()
		if v != "" && secretFlag(f.Name) {
			// A comment, so that the output read back as a config file
			// does not set the secret to a placeholder.
			fmt.Fprintf(&b, "# %s: set, %s\n", f.Name, redacted)
			continue
		}
		fmt.Fprintf(&b, "%s: %s\n", f.Name, yamlScalar(v))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// yamlScalar quotes s when a plain YAML scalar would change its meaning.
func yamlScalar(s string) string {
	if s == "" || strings.ContainsAny(s, "#:[]{},&*!|>'\"%@`") || strings.TrimSpace(s) != s {
		return strconv.Quote(s)
	}
	return s
}

type yamlEntry struct {
	key, value string
	line       int
}

// parseFlatYAML parses the subset described at the top of this file. A
// list becomes its items joined with commas, which list flags split.
func parseFlatYAML(text string) ([]yamlEntry, error) {
	var out []yamlEntry
	seen := map[string]int{}
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		num := i + 1
		line := stripComment(lines[i])
		if strings.TrimSpace(line) == "" || strings.TrimSpace(line) == "---" {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, fmt.Errorf("line %d: unexpected indentation (only a flat key: value mapping is supported)", num)
		}
		key, rest, ok := strings.Cut(line, ":")
		key = strings.TrimSpace(key)
		if !ok || key == "" || strings.ContainsAny(key, " \t\"'") {
			return nil, fmt.Errorf("line %d: want \"key: value\", got %q", num, strings.TrimSpace(line))
		}
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("line %d: key %q repeats line %d", num, key, prev)
		}
		seen[key] = num
		rest = strings.TrimSpace(rest)
		var value string
		var err error
		switch {
		case rest == "":
			var items []string
			items, i, err = blockList(lines, i+1)
			value = strings.Join(items, ",")
		case strings.HasPrefix(rest, "["):
			var items []string
			items, err = flowList(rest)
			value = strings.Join(items, ",")
		case strings.HasPrefix(rest, "{"), strings.HasPrefix(rest, "|"), strings.HasPrefix(rest, ">"),
			strings.HasPrefix(rest, "&"), strings.HasPrefix(rest, "*"), strings.HasPrefix(rest, "!"):
			err = errors.New("only scalars and lists of scalars are supported")
		default:
			value, err = scalar(rest)
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", num, key, err)
		}
		out = append(out, yamlEntry{key: key, value: value, line: num})
	}
	return out, nil
}

// blockList reads "  - item" lines from lines[start:]; it returns the
// items and the index of the last line it consumed.
func blockList(lines []string, start int) ([]string, int, error) {
	var items []string
	last := start - 1
	for j := start; j < len(lines); j++ {
		l := stripComment(lines[j])
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		if l[0] != ' ' && l[0] != '\t' && !strings.HasPrefix(l, "- ") && l != "-" {
			break
		}
		item, ok := strings.CutPrefix(t, "-")
		if !ok {
			return nil, j, fmt.Errorf("line %d: nested mappings are not supported", j+1)
		}
		v, err := scalar(strings.TrimSpace(item))
		if err != nil {
			return nil, j, fmt.Errorf("line %d: %w", j+1, err)
		}
		items = append(items, v)
		last = j
	}
	return items, last, nil
}

func flowList(s string) ([]string, error) {
	if !strings.HasSuffix(s, "]") {
		return nil, errors.New("unterminated [ list")
	}
	inner := strings.TrimSpace(s[1 : len(s)-1])
	if inner == "" {
		return nil, nil
	}
	var items []string
	for _, part := range splitFlow(inner) {
		v, err := scalar(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		items = append(items, v)
	}
	return items, nil
}

// splitFlow splits on commas outside quotes.
func splitFlow(s string) []string {
	var parts []string
	var quote byte
	start := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote == 0 && c == ',':
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// scalar unquotes a YAML scalar: "double" (Go/JSON escapes), 'single'
// (two single quotes make one), or plain. A plain ~ or null is empty.
func scalar(s string) (string, error) {
	switch {
	case s == "~" || s == "null":
		return "", nil
	case strings.HasPrefix(s, `"`):
		v, err := strconv.Unquote(s)
		if err != nil {
			return "", fmt.Errorf("bad double-quoted string %s", s)
		}
		return v, nil
	case strings.HasPrefix(s, "'"):
		if len(s) < 2 || !strings.HasSuffix(s, "'") {
			return "", fmt.Errorf("bad single-quoted string %s", s)
		}
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), nil
	}
	return s, nil
}

// stripComment drops a # comment that starts the line or follows a blank,
// outside quotes.
func stripComment(line string) string {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote == 0 && c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return strings.TrimRight(line[:i], " \t")
		}
	}
	return strings.TrimRight(line, " \t")
}

// secretFlag reports flags whose values --print-config must not show.
func secretFlag(name string) bool {
	for _, w := range []string{"token", "secret", "password"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}
