package main

import (
	"fmt"
	"io"

	"mailwarden"
)

type graphProbeJSON struct {
	Endpoint     string `json:"endpoint"`
	Sender       string `json:"sender"`
	Status       int    `json:"status,omitempty"`
	RequestID    string `json:"request_id,omitempty"`
	MailboxFound bool   `json:"mailbox_found"`
	Note         string `json:"note,omitempty"`
}

func graphProbeOut(rep *mailwarden.ProbeReport) *graphProbeJSON {
	if rep == nil || rep.Graph == nil {
		return nil
	}
	g := rep.Graph
	return &graphProbeJSON{Endpoint: g.Endpoint, Sender: g.Sender, Status: g.Status, RequestID: g.RequestID, MailboxFound: g.MailboxFound, Note: g.Note}
}

func printGraphProbe(w io.Writer, rep *mailwarden.ProbeReport) {
	if rep == nil || rep.Graph == nil {
		return
	}
	g := rep.Graph
	fmt.Fprintf(w, "graph     %s as %s: token obtained; GET /users answered %d (request-id %s)\n", term(g.Endpoint), term(g.Sender), g.Status, term(g.RequestID))
	if g.Note != "" {
		fmt.Fprintf(w, "          %s\n", term(g.Note))
	}
}
