package main

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"os"

	"mailwarden"
)

// saveCert writes the certificate chain of the first server that
// presented one to file (PEM, leaf first). It returns exitOK when there is
// nothing to do or it was written, and an exit code (having said why) when
// no certificate was presented or the file cannot be written.
func saveCert(e *env, rep *mailwarden.ProbeReport, probeErr error, file string) int {
	if file == "" {
		return exitOK
	}
	var buf bytes.Buffer
	if rep != nil {
		for _, sp := range rep.Servers {
			if sp.Info.TLS == nil || len(sp.Info.TLS.PeerCertificates) == 0 {
				continue
			}
			for _, c := range sp.Info.TLS.PeerCertificates {
				pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
			}
			break
		}
	}
	if buf.Len() == 0 {
		if probeErr != nil {
			return exitOK // the probe's own error says why
		}
		fmt.Fprintf(e.stderr, "smtpcheck probe: --save-cert: the session was not encrypted: no certificate to save\n")
		return exitConnection
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		fmt.Fprintf(e.stderr, "smtpcheck probe: --save-cert: %s\n", term(err.Error()))
		return exitUsage
	}
	fmt.Fprintf(e.stderr, "smtpcheck probe: saved the certificate chain to %s\n", file)
	return exitOK
}
