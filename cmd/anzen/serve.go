package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func newServeCommand(g *globalFlags) *cobra.Command {
	var listen, tlsCert, tlsKey string
	var demo bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the web interface, the API and the background jobs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			a, err := g.open(ctx, map[string]string{"listen": listen, "tls.cert": tlsCert, "tls.key": tlsKey})
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.Bootstrap(ctx, cmd.OutOrStdout()); err != nil {
				return err
			}
			if demo {
				if err := a.LoadDemo(ctx, cmd.OutOrStdout()); err != nil {
					return err
				}
			}
			return a.Serve(ctx, nil)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "", "address:port to listen on (env ANZEN_LISTEN; default 127.0.0.1:8080)")
	f.StringVar(&tlsCert, "tls-cert", "", "PEM certificate file for HTTPS (env ANZEN_TLS_CERT)")
	f.StringVar(&tlsKey, "tls-key", "", "PEM private key file for HTTPS (env ANZEN_TLS_KEY)")
	f.BoolVar(&demo, "demo", false, "fill an empty database with a fictional hospital to explore anzen")
	return cmd
}
