package mailwarden

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// A Config is a configuration file: several named profiles, one of them
// active. It is JSON, because it needs nothing beyond the standard library,
// it is what an embedding product already stores its settings as, and
// encoding/json can refuse unknown fields, so a mistyped field name is an
// error that names it instead of a setting silently ignored:
//
//	{
//	  "active": "alerts",
//	  "profiles": [
//	    {
//	      "name": "alerts",
//	      "provider": "exchange-online",
//	      "from": "Alerts <alerts@example.com>",
//	      "auth": {"username": "alerts@example.com", "oauth": {"flow": "client_credentials", ...}},
//	      "timeout": "30s"
//	    }
//	  ]
//	}
//
// Durations are strings such as "30s" or "2m". Secrets are references
// ("env:NAME", "file:PATH", or a scheme the embedding product's
// SecretSource knows), never values.
type Config struct {
	// Active names the profile used when none is asked for.
	Active   string    `json:"active,omitempty"`
	Profiles []Profile `json:"profiles"`

	file string
}

// LoadConfig reads and validates the configuration file at path. Errors are
// *ConfigError naming the file, and the profile and field where one is at
// fault.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{File: path, Err: err}
	}
	return ParseConfig(data, path)
}

// ParseConfig parses and validates a configuration; file names it in
// errors and may be empty.
func ParseConfig(data []byte, file string) (*Config, error) {
	return parseConfig(data, file, nil)
}

// LoadProfile reads the configuration file at path and returns the profile
// called name (empty: the active one, or the only one). Only that profile
// is validated: a mistake in another profile of the file does not stop
// this one from being shown or used. The file's structure (JSON syntax,
// names, the active profile) is checked as LoadConfig checks it. Errors
// are *ConfigError.
func LoadProfile(path, name string) (Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Profile{}, &ConfigError{File: path, Err: err}
	}
	var deferred map[string]error
	c, err := parseConfig(data, path, &deferred)
	if err != nil {
		return Profile{}, err
	}
	p, err := c.Profile(name)
	if err != nil {
		return Profile{}, err
	}
	if err := deferred[p.Name]; err != nil {
		return Profile{}, err
	}
	return p, nil
}

// parseConfig is ParseConfig; with deferred not nil, a profile that does
// not validate is kept and its error stored there under its name.
func parseConfig(data []byte, file string, deferred *map[string]error) (*Config, error) {
	var raw struct {
		Active   string            `json:"active"`
		Profiles []json.RawMessage `json:"profiles"`
	}
	if err := strictDecode(data, &raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineCol(data, se.Offset)
			return nil, &ConfigError{File: file, Err: fmt.Errorf("line %d, column %d: %w", line, col, err)}
		}
		field, err := fieldOf(err)
		return nil, &ConfigError{File: file, Field: field, Err: err}
	}
	c := &Config{Active: raw.Active, file: file}
	seen := map[string]bool{}
	for i, r := range raw.Profiles {
		var p Profile
		if err := json.Unmarshal(r, &p); err != nil {
			name := profileName(r, i)
			var ce *ConfigError
			if errors.As(err, &ce) {
				return nil, &ConfigError{File: file, Profile: name, Field: ce.Field, Err: ce.Err}
			}
			field, err := fieldOf(err)
			return nil, &ConfigError{File: file, Profile: name, Field: field, Err: err}
		}
		if p.Name == "" {
			return nil, &ConfigError{File: file, Profile: fmt.Sprintf("#%d", i+1), Field: "name", Err: errors.New("every profile needs a name")}
		}
		if seen[p.Name] {
			return nil, &ConfigError{File: file, Profile: p.Name, Field: "name", Err: errors.New("two profiles have this name")}
		}
		seen[p.Name] = true
		if err := p.Validate(); err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				ce.File = file
			}
			if deferred == nil {
				return nil, err
			}
			if *deferred == nil {
				*deferred = map[string]error{}
			}
			(*deferred)[p.Name] = err
		}
		c.Profiles = append(c.Profiles, p)
	}
	if len(c.Profiles) == 0 {
		return nil, &ConfigError{File: file, Field: "profiles", Err: errors.New("no profiles")}
	}
	if c.Active != "" && !seen[c.Active] {
		return nil, &ConfigError{File: file, Field: "active", Err: fmt.Errorf("no profile is called %q", c.Active)}
	}
	return c, nil
}

// Profile returns the profile called name; an empty name means the active
// profile, or the only one when there is just one.
func (c *Config) Profile(name string) (Profile, error) {
	if name == "" {
		name = c.Active
	}
	if name == "" {
		if len(c.Profiles) == 1 {
			return c.Profiles[0], nil
		}
		return Profile{}, &ConfigError{File: c.file, Field: "active", Err: fmt.Errorf("the file has %d profiles and none is active: choose one (%s)", len(c.Profiles), strings.Join(c.Names(), ", "))}
	}
	for _, p := range c.Profiles {
		if p.Name == name {
			return p, nil
		}
	}
	return Profile{}, &ConfigError{File: c.file, Profile: name, Err: fmt.Errorf("no such profile (the file has: %s)", strings.Join(c.Names(), ", "))}
}

// Names returns the profile names in file order.
func (c *Config) Names() []string {
	names := make([]string, len(c.Profiles))
	for i, p := range c.Profiles {
		names[i] = p.Name
	}
	return names
}

// profileJSON is Profile as it is written in files: the timeout is a
// duration string.
type profileJSON struct {
	profileFields
	Timeout string `json:"timeout,omitempty"`
}

type profileFields Profile

// MarshalJSON writes the timeout as a duration string ("30s"), and
// addresses as typed ("Alerts <alerts@example.com>", not \u003c).
func (p Profile) MarshalJSON() ([]byte, error) {
	pj := profileJSON{profileFields: profileFields(p)}
	pj.profileFields.Timeout = 0
	if p.Timeout != 0 {
		pj.Timeout = p.Timeout.String()
	}
	return marshalNoEscape(pj)
}

// UnmarshalJSON reads a profile strictly: an unknown field is an error, so
// that a mistyped setting is reported rather than ignored. The timeout is a
// duration string ("30s") or a number of seconds.
func (p *Profile) UnmarshalJSON(data []byte) error {
	var pj struct {
		profileFields
		Timeout json.RawMessage `json:"timeout,omitempty"`
	}
	if err := strictDecode(data, &pj); err != nil {
		return err
	}
	*p = Profile(pj.profileFields)
	p.Timeout = 0
	if len(pj.Timeout) > 0 && string(pj.Timeout) != "null" {
		d, err := parseJSONDuration(pj.Timeout)
		if err != nil {
			return &ConfigError{Profile: p.Name, Field: "timeout", Err: err}
		}
		p.Timeout = d
	}
	return nil
}

func parseJSONDuration(raw json.RawMessage) (time.Duration, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration such as \"30s\" or \"2m\"", s)
		}
		return d, nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not a duration such as \"30s\" or a number of seconds", raw)
	}
	return time.Duration(f * float64(time.Second)), nil
}

func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// profileName finds a profile's name for an error message even when the
// profile does not decode.
func profileName(raw json.RawMessage, i int) string {
	var n struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(raw, &n) == nil && n.Name != "" {
		return n.Name
	}
	return fmt.Sprintf("#%d", i+1)
}

// fieldOf pulls the field path out of an encoding/json error.
func fieldOf(err error) (string, error) {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return strings.TrimPrefix(te.Field, "profileFields."), fmt.Errorf("%s is not a valid value here (want %s)", te.Value, te.Type)
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		f := strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)
		return f, errors.New("unknown field (misspelt, or not a setting of this version)")
	}
	return "", err
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

type graphFields GraphConfig

// MarshalJSON writes MaxRetryWait as a duration string ("2m0s").
func (g GraphConfig) MarshalJSON() ([]byte, error) {
	gj := struct {
		graphFields
		MaxRetryWait string `json:"max_retry_wait,omitempty"`
	}{graphFields: graphFields(g)}
	gj.graphFields.MaxRetryWait = 0
	if g.MaxRetryWait != 0 {
		gj.MaxRetryWait = g.MaxRetryWait.String()
	}
	return marshalNoEscape(gj)
}

// UnmarshalJSON reads MaxRetryWait as a duration string ("2m") or a
// number of seconds, and refuses unknown fields.
func (g *GraphConfig) UnmarshalJSON(data []byte) error {
	var gj struct {
		graphFields
		MaxRetryWait json.RawMessage `json:"max_retry_wait,omitempty"`
	}
	if err := strictDecode(data, &gj); err != nil {
		return err
	}
	*g = GraphConfig(gj.graphFields)
	g.MaxRetryWait = 0
	if len(gj.MaxRetryWait) > 0 && string(gj.MaxRetryWait) != "null" {
		d, err := parseJSONDuration(gj.MaxRetryWait)
		if err != nil {
			return &ConfigError{Field: "graph.max_retry_wait", Err: err}
		}
		g.MaxRetryWait = d
	}
	return nil
}
