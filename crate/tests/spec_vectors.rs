//! The JAX PRNG and Flax init reference vectors (native; `wasm.rs` runs the same checks in the
//! browser).
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::spec::*;

#[test]
fn jax_prng_vectors_match_exactly() {
    let (compared, worst_normal_ulps) = check_prng_vectors(PRNG_JSON);
    assert!(compared > 2000, "only {compared} values compared");
    // normal() goes through erf_inv's log1p, which may round 1 ulp apart from XLA's.
    assert!(worst_normal_ulps <= 1);
}

#[test]
fn flax_init_matches_for_both_initializers_and_seeds() {
    let cases = flax_cases(FLAX_JSON);
    assert_eq!(cases.len(), 4);
    for case in &cases {
        check_flax_case(case, &host_init(case));
    }
}
