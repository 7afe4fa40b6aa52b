package kit

import (
	"fmt"
	"os/exec"
)

// BuildPromobot builds the promobot binary (go build of cmd/promobot)
// into the file bin: the binary the end-to-end, browser and chart tests
// run.
func BuildPromobot(bin string) error {
	cmd := exec.Command("go", "build", "-o", bin, "github.com/promobot/promobot/cmd/promobot")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build promobot: %w\n%s", err, out)
	}
	return nil
}
