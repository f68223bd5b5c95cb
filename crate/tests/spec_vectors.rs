//! The JAX PRNG (both modes), Flax init and the notebook's own init, natively against the files
//! in `../shared/spec/` read at run time (`$ACTLAB_SPEC_DIR` for another directory of files of
//! the same schema); `wasm.rs` runs the same checks in the browser on the compiled-in copies.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::spec::*;

#[test]
fn jax_prng_vectors_match_exactly() {
    let (compared, worst_normal_ulps) = check_prng_vectors(&spec_file("jax_prng_vectors.json"));
    assert!(compared > 2000, "only {compared} values compared");
    // normal() goes through erf_inv's log1p, which may round 1 ulp apart from XLA's.
    assert!(worst_normal_ulps <= 1);
}

#[test]
fn the_notebooks_prng_of_jax_before_0_5_matches_exactly() {
    let (compared, worst_normal_ulps) =
        check_prng_vectors(&spec_file("jax_prng_vectors_legacy.json"));
    assert!(compared > 2000, "only {compared} values compared");
    assert!(worst_normal_ulps <= 1);
}

#[test]
fn flax_init_matches_for_both_initializers_and_seeds() {
    let cases = flax_cases(&spec_file("flax_mlp_init.json"));
    assert!(!cases.is_empty());
    for case in &cases {
        check_flax_case(case, &host_init(case));
    }
}

#[test]
fn the_notebooks_init_matches_for_both_networks_and_prng_modes() {
    let cases = flax_cases(&spec_file("tutorial_init.json"));
    assert!(cases.iter().any(|c| c.mode == actlab::prng::Mode::Legacy));
    for case in &cases {
        check_flax_case(case, &host_init(case));
    }
}
