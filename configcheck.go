package mailwarden

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// profileRef is one secret reference of a profile and the field it is in.
type profileRef struct {
	field string
	ref   SecretRef
}

// secretRefs lists the profile's secret references with their fields.
func (p Profile) secretRefs() []profileRef {
	return []profileRef{
		{"client_p12_password", p.ClientP12Password},
		{"auth.password", p.Auth.Password},
		{"auth.oauth_token", p.Auth.OAuthToken},
		{"proxy.password", p.Proxy.Password},
		{"smime.sign_password", p.SMIME.SignPassword},
		{"auth.oauth.client_secret", p.Auth.OAuth.ClientSecret},
		{"auth.oauth.token_cache_key", p.Auth.OAuth.TokenCacheKey},
		{"pkcs11.pin", p.PKCS11.PIN},
	}
}

// A ConfigReport is what CheckConfig found in a configuration file.
type ConfigReport struct {
	// Profiles names every profile in file order ("#2" for one without a
	// name) and Active the active one.
	Profiles []string
	Active   string
	// Errors lists every problem found, each a *ConfigError naming the
	// profile and field: all the profiles are checked, and each profile
	// until no further problem shows (a profile whose first problem hides
	// the rest is reported with that one).
	Errors []*ConfigError
	// Warnings are env: and file: secret references that do not resolve on
	// this machine (the variable is unset or the file cannot be read).
	// They are not errors: the machine that sends may differ.
	Warnings []*ConfigError
}

// OK reports whether the file has no errors.
func (r *ConfigReport) OK() bool { return len(r.Errors) == 0 }

// maxProblemsPerProfile bounds how many problems CheckConfig looks for in
// one profile.
const maxProblemsPerProfile = 32

// CheckConfig checks a configuration file as LoadConfig would, but does
// not stop at the first problem: it reports every one it finds (see
// ConfigReport). getenv reads the environment for env: references; nil is
// os.Getenv. The error is for a file that cannot be read or is not JSON
// at all; everything else is in the report.
func CheckConfig(ctx context.Context, path string, getenv func(string) string) (*ConfigReport, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{File: path, Err: err}
	}
	var raw struct {
		Active   string            `json:"active"`
		Profiles []json.RawMessage `json:"profiles"`
	}
	_, perr := ParseConfig(data, path)
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, perr // the same error, with its position
	}
	rep := &ConfigReport{Active: raw.Active}
	// Problems outside the profiles (unknown top-level fields, ...).
	var ce *ConfigError
	if errors.As(perr, &ce) && ce.Profile == "" && ce.Field != "profiles" && ce.Field != "active" {
		rep.Errors = append(rep.Errors, ce)
	}
	seen := map[string]bool{}
	for i, r := range raw.Profiles {
		name := profileName(r, i)
		rep.Profiles = append(rep.Profiles, name)
		if seen[name] {
			rep.Errors = append(rep.Errors, &ConfigError{File: path, Profile: name, Field: "name", Err: errors.New("two profiles have this name")})
		}
		seen[name] = true
		p, errs := checkProfile(r, name)
		for _, e := range errs {
			e.File = path
		}
		rep.Errors = append(rep.Errors, errs...)
		if p != nil {
			rep.Warnings = append(rep.Warnings, p.unresolvedRefs(ctx, path, getenv)...)
		}
	}
	if len(raw.Profiles) == 0 {
		rep.Errors = append(rep.Errors, &ConfigError{File: path, Field: "profiles", Err: errors.New("no profiles")})
	}
	if raw.Active != "" && !seen[raw.Active] {
		rep.Errors = append(rep.Errors, &ConfigError{File: path, Field: "active", Err: fmt.Errorf("no profile is called %q", raw.Active)})
	}
	return rep, nil
}

// checkProfile decodes and validates one profile, and after each problem
// removes the field at fault and looks again. It returns the profile when
// it decodes (to look for unresolved references) and the problems.
func checkProfile(raw json.RawMessage, name string) (*Profile, []*ConfigError) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, []*ConfigError{{Profile: name, Err: err}}
	}
	var errs []*ConfigError
	var decoded *Profile
	reported := map[string]bool{}
	for range maxProblemsPerProfile {
		b, _ := json.Marshal(doc)
		var p Profile
		err := json.Unmarshal(b, &p)
		if err == nil {
			if decoded == nil {
				decoded = &p
			}
			if p.Name == "" {
				err = &ConfigError{Field: "name", Err: errors.New("every profile needs a name")}
			} else {
				err = p.Validate()
			}
		}
		if err == nil {
			break
		}
		var ce *ConfigError
		if !errors.As(err, &ce) {
			field, ferr := fieldOf(err)
			ce = &ConfigError{Field: field, Err: ferr}
		}
		ce = &ConfigError{Profile: name, Field: ce.Field, Err: ce.Err}
		if reported[ce.Field] {
			break // removing the field did not help: what follows is noise
		}
		reported[ce.Field] = true
		errs = append(errs, ce)
		if ce.Field == "servers" {
			// "at least one server": look further with a placeholder.
			doc["servers"] = []any{"localhost"}
		} else if ce.Field == "" || !removePath(doc, ce.Field) {
			break
		}
	}
	return decoded, errs
}

var pathPart = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([^\[\]]+)((?:\[\d+\])*)$`) })

// removePath deletes the value at a field path such as "auth.mechanism" or
// "servers[1]" from doc. An array element is replaced, so that the
// indexes of later elements stay as the file has them: a string by the
// placeholder "localhost" (a valid server), anything else by null. It
// reports whether there was one.
func removePath(doc map[string]any, path string) bool {
	parts := strings.Split(path, ".")
	var cur any = doc
	for i, part := range parts {
		m := pathPart().FindStringSubmatch(part)
		obj, ok := cur.(map[string]any)
		if m == nil || !ok {
			return false
		}
		key, idx := m[1], indexes(m[2])
		last := i == len(parts)-1
		if last && len(idx) == 0 {
			if _, ok := obj[key]; !ok {
				return false
			}
			delete(obj, key)
			return true
		}
		cur = obj[key]
		for j, n := range idx {
			arr, ok := cur.([]any)
			if !ok || n >= len(arr) {
				return false
			}
			if last && j == len(idx)-1 {
				switch arr[n].(type) {
				case nil:
					return false
				case string:
					if arr[n] == "localhost" {
						return false
					}
					arr[n] = "localhost"
				default:
					arr[n] = nil
				}
				return true
			}
			cur = arr[n]
		}
	}
	return false
}

func indexes(s string) []int {
	var out []int
	for _, p := range strings.Split(strings.Trim(s, "[]"), "][") {
		if n, err := strconv.Atoi(p); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// unresolvedRefs lists the env: and file: references of p that do not
// resolve here. Other schemes belong to the embedding program's
// SecretSource and are not looked at.
func (p Profile) unresolvedRefs(ctx context.Context, file string, getenv func(string) string) []*ConfigError {
	var out []*ConfigError
	for _, r := range p.secretRefs() {
		scheme, _, err := r.ref.parts()
		if r.ref == "" || err != nil || (scheme != "env" && scheme != "file") {
			continue
		}
		if _, err := r.ref.Resolve(ctx, getenv, nil); err != nil {
			msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), ErrSecretUnresolved.Error()), ": ")
			out = append(out, &ConfigError{File: file, Profile: p.Name, Field: r.field,
				Err: fmt.Errorf("%s does not resolve on this machine (%s)", r.ref, msg)})
		}
	}
	return out
}

// adminMechanismNames are the login-method names of admin screens and
// their XML settings that the registry takes as aliases.
var adminMechanismNames = []string{"NoLoginMethod", "AuthLoginMethod", "LoginPlainMethod", "CramMD5Method", "KERBEROS", "System", "Windows integrated"}

// acceptedMechanisms lists, for an error message, the mechanism names a
// profile accepts.
func acceptedMechanisms() string {
	return "want one of " + strings.Join(adminMechanismNames, ", ") + ", a SASL name (" +
		strings.Join(newRegistry().Names(), ", ") + "), auto or none"
}
