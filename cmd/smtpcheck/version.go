package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// buildVersion describes the binary from its build information: the module
// version ("(devel)" for a build from a work tree), the VCS revision and
// time with a "+dirty" mark for uncommitted changes, and the Go version.
type buildVersion struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

func readVersion(info *debug.BuildInfo, ok bool) buildVersion {
	v := buildVersion{Module: "mailwarden", Version: "unknown", Go: runtime.Version()}
	if !ok || info == nil {
		return v
	}
	if info.Main.Path != "" {
		v.Module = info.Main.Path
	}
	if info.Main.Version != "" {
		v.Version = info.Main.Version
	}
	if info.GoVersion != "" {
		v.Go = info.GoVersion
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func (v buildVersion) String() string {
	s := "smtpcheck " + v.Module + " " + v.Version
	if v.Revision != "" {
		s += ", revision " + v.Revision
		if v.Modified {
			s += "+dirty"
		}
		if v.Time != "" {
			s += " (" + v.Time + ")"
		}
	}
	return s + ", " + v.Go
}

func runVersion(_ context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print the version as one JSON object")
	if code, done := parseFlags(fs, e, args, "version", "usage: smtpcheck version [--json]   (or: smtpcheck --version)\n\nPrints the module version, the VCS revision it was built from and the Go version."); done {
		return code
	}
	v := readVersion(debug.ReadBuildInfo())
	if *asJSON {
		writeJSON(e.stdout, v)
		return exitOK
	}
	fmt.Fprintln(e.stdout, v)
	return exitOK
}
