package config

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzApplyTOML feeds arbitrary documents to ApplyTOML: it must never panic,
// and a document it refuses must leave the config as it was, still valid.
func FuzzApplyTOML(f *testing.F) {
	var example bytes.Buffer
	if err := WriteExample(&example); err != nil {
		f.Fatal(err)
	}
	uncommented, _ := uncomment(example.String())
	seeds := []string{
		"",
		example.String(),
		uncommented,
		"listen = \"0.0.0.0:8443\"\n[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n",
		"[session]\nidle_timeout = \"20h\"\nmax_lifetime = \"1h\"\n",
		"[session]\nidle_timeout = \"20h\"\nmax_lifetime = \"nope\"\n",
		"[http]\ntrusted_proxies = [\"10.0.0.0/8\", 3]\n",
		"[http]\nmax_body = 1e400\n",
		"[lockout]\nmax_failures = 9223372036854775807\n",
		"[[session]]\nidle_timeout = \"1m\"\n",
		"data = 1979-05-27T07:32:00-08:00\n",
		"\"tls.cert\" = \"x\"\n",
		"[ui]\ntime_zone = \"Asia/Tokyo\"\nlanguage = \"en\"\n",
		"mfa = { required_roles = [\"admin\"] }\n",
		"listen = \"\\u0000:80\"\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		c := Default()
		err := c.ApplyTOML(doc)
		if err == nil {
			return
		}
		if err.Error() == "" {
			t.Fatal("an error without a message")
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Fatalf("refused document %q changed the config (%v): %+v", doc, err, c)
		}
		if verr := c.Validate(); verr != nil {
			t.Fatalf("refused document %q left a config that does not validate: %v", doc, verr)
		}
	})
}
