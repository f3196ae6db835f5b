package modtld

// Label is one entry of the .mod label vocabulary.
type Label struct {
	Name    string // what a verdict's label says
	Meaning string
}

// labels is the vocabulary, sorted by name; read it through [Labels].
var labels = [...]Label{
	{"adult", "sexual or otherwise adult content, lawful but not for minors"},
	{"copyright", "infringes copyright or another intellectual property right"},
	{"harassment", "targets a person with abuse, threats or doxxing"},
	{"hate", "attacks people for a protected characteristic"},
	{"illegal", "unlawful in the moderator's jurisdiction for another reason"},
	{"impersonation", "pretends to be another person or organization"},
	{"malware", "is or links to harmful code"},
	{"misleading", "presents false or manipulated information as fact"},
	{"ok", "reviewed and found acceptable"},
	{"scam", "fraud or phishing: tries to take money or credentials"},
	{"spam", "unsolicited bulk or repetitive promotion"},
	{"violence", "graphic violence or gore"},
}

// Labels returns the vocabulary a verdict's label (and a moderator's
// labels) must come from, sorted by name. It is part of the plugin's
// contract: adding a label is a minor version, removing or renaming one a
// major one.
func Labels() []Label { return append([]Label(nil), labels[:]...) }

// KnownLabel reports whether name is in [Labels].
func KnownLabel(name string) bool {
	for _, l := range labels {
		if l.Name == name {
			return true
		}
	}
	return false
}

// labelNames lists the vocabulary, for messages and defaults.
func labelNames() []string {
	out := make([]string, len(labels))
	for i, l := range labels {
		out[i] = l.Name
	}
	return out
}
