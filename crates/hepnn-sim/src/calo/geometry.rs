//! The sampling calorimeter of the CaloChallenge datasets 2 and 3: a stack of tungsten absorber
//! and silicon sensor slabs, grouped into readout layers, with the challenge's voxel binning.
//!
//! Material constants are those of the PDG's "Atomic and nuclear properties of materials"
//! tables (pdg.lbl.gov/AtomicNuclearProperties): radiation length X0, critical energy E_c
//! (Rossi's definition), Molière radius R_M and the minimum ionisation dE/dx.

use hepnn_core::io::calo::{BinningLayer, CaloBinning};

/// One material of the stack.
#[derive(Debug, Clone, PartialEq)]
pub struct Material {
    /// Name, for reports.
    pub name: &'static str,
    /// Atomic number Z.
    pub z: f64,
    /// Atomic mass A, g/mol.
    pub a: f64,
    /// Density, g/cm³.
    pub density_g_cm3: f64,
    /// Radiation length X0, g/cm² (PDG).
    pub x0_g_cm2: f64,
    /// Critical energy for electrons E_c, MeV (PDG, Rossi's definition).
    pub critical_energy_mev: f64,
    /// Minimum ionisation stopping power, MeV cm²/g (PDG); sets the MIP sampling fraction.
    pub dedx_min_mev_cm2_g: f64,
    /// Mean excitation energy I, eV (PDG).
    pub mean_excitation_ev: f64,
    /// Density-effect parameters (Sternheimer, Berger and Seltzer, At. Data Nucl. Data Tables 30
    /// (1984) 261, as tabulated by the PDG).
    pub density_effect: Sternheimer,
}

/// Sternheimer's parameterisation of the density-effect correction δ(X), X = log₁₀(βγ):
/// `δ = δ₀ 10^{2(X − X₀)}` below X₀ (conductors), `2 ln10 X − C̄ + a (X₁ − X)^k` between X₀
/// and X₁, `2 ln10 X − C̄` above X₁.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sternheimer {
    /// C̄ = 2 ln(I/ħω_p) + 1.
    pub c_bar: f64,
    /// X₀.
    pub x0: f64,
    /// X₁.
    pub x1: f64,
    /// a.
    pub a: f64,
    /// k.
    pub k: f64,
    /// δ₀ (0 for insulators).
    pub delta0: f64,
}

impl Sternheimer {
    /// δ at βγ.
    pub fn delta(&self, beta_gamma: f64) -> f64 {
        let x = beta_gamma.log10();
        let ln10 = std::f64::consts::LN_10;
        if x >= self.x1 {
            2.0 * ln10 * x - self.c_bar
        } else if x >= self.x0 {
            2.0 * ln10 * x - self.c_bar + self.a * (self.x1 - x).powf(self.k)
        } else {
            self.delta0 * 10f64.powf(2.0 * (x - self.x0))
        }
    }
}

impl Material {
    /// Tungsten (PDG: X0 = 6.76 g/cm² = 3.504 mm, E_c = 7.97 MeV, R_M = 9.327 mm,
    /// dE/dx_min = 1.145 MeV cm²/g).
    pub fn tungsten() -> Material {
        Material {
            name: "W",
            z: 74.0,
            a: 183.84,
            density_g_cm3: 19.3,
            x0_g_cm2: 6.76,
            critical_energy_mev: 7.97,
            dedx_min_mev_cm2_g: 1.145,
            mean_excitation_ev: 727.0,
            density_effect: Sternheimer {
                c_bar: 5.4059,
                x0: 0.2167,
                x1: 3.4960,
                a: 0.15509,
                k: 2.8447,
                delta0: 0.14,
            },
        }
    }

    /// Silicon (PDG: X0 = 21.82 g/cm² = 93.70 mm, E_c = 40.19 MeV, dE/dx_min = 1.664 MeV cm²/g).
    pub fn silicon() -> Material {
        Material {
            name: "Si",
            z: 14.0,
            a: 28.0855,
            density_g_cm3: 2.329,
            x0_g_cm2: 21.82,
            critical_energy_mev: 40.19,
            dedx_min_mev_cm2_g: 1.664,
            mean_excitation_ev: 173.0,
            density_effect: Sternheimer {
                c_bar: 4.4355,
                x0: 0.2015,
                x1: 2.8716,
                a: 0.14921,
                k: 3.2546,
                delta0: 0.14,
            },
        }
    }

    /// Radiation length, mm.
    pub fn x0_mm(&self) -> f64 {
        10.0 * self.x0_g_cm2 / self.density_g_cm3
    }

    /// Collision stopping power, MeV/mm.
    pub fn dedx_mev_per_mm(&self) -> f64 {
        self.dedx_min_mev_cm2_g * self.density_g_cm3 / 10.0
    }

    /// Molière radius R_M = E_s X0 / E_c (E_s = 21.2052 MeV), mm.
    pub fn moliere_radius_mm(&self) -> f64 {
        SCALE_ENERGY_MEV * self.x0_mm() / self.critical_energy_mev
    }

    /// Collision stopping power of an electron of kinetic energy `kinetic_mev`, MeV cm²/g,
    /// without a δ-ray cut (ICRU Report 37, eq. 2.1 with the Rohrlich–Carlson term; Seltzer and
    /// Berger's ESTAR formula):
    /// `2π r_e² m_e c² N_A Z/(A β²) [ln(τ²(τ + 2)/(2 (I/m_e c²)²)) + F⁻(τ) − δ]`,
    /// `F⁻ = 1 − β² + (τ²/8 − (2τ + 1) ln 2)/(τ + 1)²`, τ = T/m_e c², δ from
    /// [`Sternheimer`]. Used for positrons too (their F⁺ differs by a few per cent).
    pub fn electron_stopping_power_mev_cm2_g(&self, kinetic_mev: f64) -> f64 {
        const ELECTRON_MASS_MEV: f64 = 0.510_998_95;
        const ELECTRON_RADIUS_CM: f64 = 2.817_940_326_2e-13;
        let tau = kinetic_mev / ELECTRON_MASS_MEV;
        let gamma = tau + 1.0;
        let beta2 = 1.0 - 1.0 / (gamma * gamma);
        let beta_gamma = (gamma * gamma - 1.0).sqrt();
        let i_over_m = self.mean_excitation_ev * 1e-6 / ELECTRON_MASS_MEV;
        let f_minus = 1.0 - beta2
            + (tau * tau / 8.0 - (2.0 * tau + 1.0) * std::f64::consts::LN_2) / (gamma * gamma);
        let k = std::f64::consts::TAU
            * ELECTRON_RADIUS_CM
            * ELECTRON_RADIUS_CM
            * ELECTRON_MASS_MEV
            * AVOGADRO
            * self.z
            / self.a;
        let bracket = (tau * tau * (tau + 2.0) / (2.0 * i_over_m * i_over_m)).ln() + f_minus
            - self.density_effect.delta(beta_gamma);
        (k / beta2 * bracket).max(0.0)
    }

    /// Electrons per mm³.
    pub fn electrons_per_mm3(&self) -> f64 {
        self.density_g_cm3 * AVOGADRO * self.z / self.a / 1000.0
    }
}

/// Avogadro's number, 1/mol.
pub const AVOGADRO: f64 = 6.022_140_76e23;
/// The scale energy E_s = m_e c² √(4π/α) of the Molière radius, MeV.
pub const SCALE_ENERGY_MEV: f64 = 21.2052;

/// The slab stack and its readout.
#[derive(Debug, Clone, PartialEq)]
pub struct CaloGeometry {
    /// Absorber material (front slab of each pair).
    pub absorber: Material,
    /// Sensor material (back slab of each pair); only its deposits are read out.
    pub sensor: Material,
    /// Absorber slab thickness, mm.
    pub absorber_mm: f64,
    /// Sensor slab thickness, mm.
    pub sensor_mm: f64,
    /// Absorber + sensor pairs summed into one readout layer.
    pub pairs_per_layer: usize,
    /// Voxel binning, one entry per readout layer.
    pub binning: CaloBinning,
}

impl CaloGeometry {
    /// The CaloChallenge dataset-2 calorimeter: 90 pairs of 1.4 mm tungsten + 0.3 mm silicon
    /// read out as 45 layers of two pairs (36.2 X0 in all), each layer binned in 16 angles ×
    /// 9 radial bins of 4.65 mm (`binning_dataset_2.xml`, built in).
    pub fn dataset_2() -> CaloGeometry {
        let r_edges_mm = vec![0.0, 4.65, 9.3, 13.95, 18.6, 23.25, 27.9, 32.55, 37.2, 41.85];
        let layers = (0..45)
            .map(|id| BinningLayer {
                id,
                r_edges_mm: r_edges_mm.clone(),
                n_alpha: 16,
            })
            .collect();
        CaloGeometry {
            absorber: Material::tungsten(),
            sensor: Material::silicon(),
            absorber_mm: 1.4,
            sensor_mm: 0.3,
            pairs_per_layer: 2,
            binning: CaloBinning {
                particle: "electron".into(),
                layers,
            },
        }
    }

    /// Readout layers.
    pub fn layers(&self) -> usize {
        self.binning.layers.len()
    }

    /// Number of slabs (absorber and sensor alternating, absorber first).
    pub fn slabs(&self) -> usize {
        2 * self.pairs_per_layer * self.layers()
    }

    /// Thickness of one absorber + sensor pair, mm.
    pub fn pair_mm(&self) -> f64 {
        self.absorber_mm + self.sensor_mm
    }

    /// Total depth, mm.
    pub fn depth_mm(&self) -> f64 {
        self.pair_mm() * (self.slabs() / 2) as f64
    }

    /// Radiation lengths per absorber + sensor pair.
    pub fn x0_per_pair(&self) -> f64 {
        self.absorber_mm / self.absorber.x0_mm() + self.sensor_mm / self.sensor.x0_mm()
    }

    /// Total depth in radiation lengths.
    pub fn depth_x0(&self) -> f64 {
        self.x0_per_pair() * (self.slabs() / 2) as f64
    }

    /// Mass fractions (absorber, sensor) of one pair.
    fn mass_fractions(&self) -> (f64, f64) {
        let wa = self.absorber_mm * self.absorber.density_g_cm3;
        let ws = self.sensor_mm * self.sensor.density_g_cm3;
        (wa / (wa + ws), ws / (wa + ws))
    }

    /// Effective radiation length of the stack, g/cm²: 1/X0 = Σ w_j / X0_j (PDG, mass
    /// fractions w_j).
    pub fn effective_x0_g_cm2(&self) -> f64 {
        let (wa, ws) = self.mass_fractions();
        1.0 / (wa / self.absorber.x0_g_cm2 + ws / self.sensor.x0_g_cm2)
    }

    /// Mean density, g/cm³.
    pub fn mean_density_g_cm3(&self) -> f64 {
        (self.absorber_mm * self.absorber.density_g_cm3
            + self.sensor_mm * self.sensor.density_g_cm3)
            / self.pair_mm()
    }

    /// Effective Molière radius of the stack, mm: 1/R_M = (1/E_s) Σ w_j E_cj / X0_j (PDG).
    pub fn effective_moliere_radius_mm(&self) -> f64 {
        let (wa, ws) = self.mass_fractions();
        let inverse = (wa * self.absorber.critical_energy_mev / self.absorber.x0_g_cm2
            + ws * self.sensor.critical_energy_mev / self.sensor.x0_g_cm2)
            / SCALE_ENERGY_MEV;
        10.0 / inverse / self.mean_density_g_cm3()
    }

    /// Effective critical energy, MeV, consistent with the two rules above:
    /// E_c = E_s X0 / R_M (both in g/cm²).
    pub fn effective_critical_energy_mev(&self) -> f64 {
        let rm_g_cm2 = self.effective_moliere_radius_mm() / 10.0 * self.mean_density_g_cm3();
        SCALE_ENERGY_MEV * self.effective_x0_g_cm2() / rm_g_cm2
    }

    /// Sampling fraction of a minimum-ionising particle: sensor dE / (absorber + sensor dE)
    /// per pair.
    pub fn mip_sampling_fraction(&self) -> f64 {
        let s = self.sensor.dedx_mev_per_mm() * self.sensor_mm;
        let a = self.absorber.dedx_mev_per_mm() * self.absorber_mm;
        s / (s + a)
    }

    /// Depth (radiation lengths from the front) of the middle of the sensor slabs of each
    /// readout layer, averaged over its pairs.
    pub fn layer_depths_x0(&self) -> Vec<f64> {
        let pair = self.x0_per_pair();
        let a = self.absorber_mm / self.absorber.x0_mm();
        let s = self.sensor_mm / self.sensor.x0_mm();
        (0..self.layers())
            .map(|l| {
                let first = l * self.pairs_per_layer;
                (first..first + self.pairs_per_layer)
                    .map(|p| p as f64 * pair + a + s / 2.0)
                    .sum::<f64>()
                    / self.pairs_per_layer as f64
            })
            .collect()
    }

    /// Checks that the geometry is usable.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.absorber_mm > 0.0 && self.sensor_mm > 0.0) {
            return Err("slab thicknesses must be positive".into());
        }
        if self.pairs_per_layer == 0 || self.binning.layers.is_empty() {
            return Err("need at least one layer of at least one pair".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn electron_stopping_power_matches_estar() {
        // NIST ESTAR, liquid water (I = 75 eV; Sternheimer C̄ 3.5017, X₀ 0.2400, X₁ 2.8004,
        // a 0.09116, k 3.4773): collision stopping power 1.849 (1 MeV), 1.968 (10 MeV),
        // 2.197 (100 MeV) MeV cm²/g.
        let water = Material {
            name: "water",
            z: 10.0,
            a: 18.0153,
            density_g_cm3: 1.0,
            x0_g_cm2: 36.08,
            critical_energy_mev: 78.33,
            dedx_min_mev_cm2_g: 1.992,
            mean_excitation_ev: 75.0,
            density_effect: Sternheimer {
                c_bar: 3.5017,
                x0: 0.2400,
                x1: 2.8004,
                a: 0.09116,
                k: 3.4773,
                delta0: 0.0,
            },
        };
        for (t, estar) in [(1.0, 1.849), (10.0, 1.968), (100.0, 2.197)] {
            let s = water.electron_stopping_power_mev_cm2_g(t);
            assert!(
                (s / estar - 1.0).abs() < 0.02,
                "T = {t} MeV: {s} vs {estar}"
            );
        }
        // In tungsten and silicon: above the muon minimum at tens of MeV (relativistic rise),
        // and the density effect continuous at X₀ (δ₀ for conductors).
        for m in [Material::tungsten(), Material::silicon()] {
            let at_50 = m.electron_stopping_power_mev_cm2_g(50.0);
            assert!(at_50 > m.dedx_min_mev_cm2_g && at_50 < 1.3 * m.dedx_min_mev_cm2_g);
            let d = m.density_effect;
            let bg = 10f64.powf(d.x0);
            assert!((d.delta(bg * (1.0 + 1e-9)) - d.delta(bg * (1.0 - 1e-9))).abs() < 0.01);
        }
    }

    #[test]
    fn dataset_2_stack_matches_the_pdg_figures() {
        let g = CaloGeometry::dataset_2();
        assert!((Material::tungsten().x0_mm() - 3.5026).abs() < 1e-3);
        assert!((Material::tungsten().moliere_radius_mm() - 9.33).abs() < 0.05);
        assert!((Material::silicon().x0_mm() - 93.69).abs() < 0.02);
        assert_eq!(g.slabs(), 180);
        assert!((g.depth_mm() - 153.0).abs() < 1e-9);
        assert!((g.depth_x0() - 36.26).abs() < 0.02, "{}", g.depth_x0());
        let rm = g.effective_moliere_radius_mm();
        assert!((rm - 10.87).abs() < 0.05, "R_M = {rm}");
        let ec = g.effective_critical_energy_mev();
        assert!((ec - 8.23).abs() < 0.05, "E_c = {ec}");
        let f = g.mip_sampling_fraction();
        assert!((f - 0.0362).abs() < 0.001, "mip fraction {f}");
        assert_eq!(g.binning.num_voxels(), 6480);
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/calochallenge/binning_dataset_2.xml");
        if path.exists() {
            let xml = CaloBinning::read_xml(&path).expect("the challenge binning parses");
            assert_eq!(xml, g.binning, "built-in binning = binning_dataset_2.xml");
        } else {
            eprintln!("skipped the XML comparison: {} is absent", path.display());
        }
    }
}
