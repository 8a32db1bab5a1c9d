package main

import (
	"fmt"
	"io"

	"mailwarden"
)

// keyJSON is where one private key lives and whether it signed.
type keyJSON struct {
	Use           string     `json:"use"`
	Where         string     `json:"where"`
	Kind          string     `json:"kind"`
	Path          string     `json:"path,omitempty"`
	Module        string     `json:"module,omitempty"`
	Token         string     `json:"token,omitempty"`
	Serial        string     `json:"serial,omitempty"`
	Slot          *uint      `json:"slot,omitempty"`
	Object        string     `json:"object,omitempty"`
	ID            string     `json:"id,omitempty"`
	Store         string     `json:"store,omitempty"`
	TestSignature string     `json:"test_signature"` // "ok" or "failed"
	Error         *errorJSON `json:"error,omitempty"`
}

func keysJSON(keys []mailwarden.KeyProbe) []keyJSON {
	var out []keyJSON
	for _, k := range keys {
		l := k.Location
		j := keyJSON{Use: k.Use, Where: l.String(), Kind: l.Kind, Path: l.Path, Module: l.Module, Token: l.Token, Serial: l.Serial,
			Slot: l.Slot, Object: l.Object, ID: l.ID, Store: l.Store, TestSignature: "ok", Error: errJSON(k.Err)}
		if k.Err != nil {
			j.TestSignature = "failed"
		}
		out = append(out, j)
	}
	return out
}

// printKeys writes one line per key: its use, where it lives, and the
// outcome of the test signature.
func printKeys(w io.Writer, keys []mailwarden.KeyProbe) {
	for _, k := range keys {
		res := "test signature ok"
		if k.Err != nil {
			res = "test signature FAILED: " + k.Err.Error()
		}
		fmt.Fprintf(w, "key       %s: %s; %s\n", k.Use, term(k.Location.String()), term(res))
	}
}
