package astro_test

import (
	"fmt"

	"github.com/obsdata/dataman/internal/astro"
)

// The example of spec 5.3: what dataMan wrote for this exposure, with astropy's registry site for "lbt".
func Example() {
	iso, _ := astro.CombineDateTime("2026-01-19", "03:12:45.678")
	t, _ := astro.ParseISO(iso)
	raH, _ := astro.ParseSexagesimal("02:42:40.771")
	dec, _ := astro.ParseSexagesimal("-00:00:47.84")
	site := astro.Site{LatDeg: 32.7016, LonEastDeg: -109.8719, HeightM: 2902}
	fmt.Println(iso)
	fmt.Printf("MJD-OBS %.9f\n", t.MJD())
	fmt.Printf("HJD-OBS %.9f\n", astro.HJD(t, raH*15, dec, site))
	fmt.Printf("BJD-OBS %.9f\n", astro.BJD(t, raH*15, dec, site))
	// Output:
	// 2026-01-19T03:12:45.678
	// MJD-OBS 61059.133862014
	// HJD-OBS 61059.134773907
	// BJD-OBS 61059.135542506
}
