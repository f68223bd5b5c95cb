//! IDX parsing: good files (gzip and raw) and every kind of corruption, as typed errors.
#![cfg(not(target_arch = "wasm32"))]

use std::io::Write;

mod common;

use actlab::data::{Batch, Dataset, DeviceDataset, epoch_batches, normalise};
use actlab::device;
use actlab::error::DataError;
use actlab::mlp::read_f32;
use actlab::prng::key;
use actlab::train::read_classes;
use common::block_on;

fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend(d.to_be_bytes());
    }
    v.extend(data);
    v
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn images(n: u32) -> Vec<u8> {
    idx(
        0x803,
        &[n, 28, 28],
        &(0..n * 784).map(|i| (i % 251) as u8).collect::<Vec<_>>(),
    )
}

fn labels(l: &[u8]) -> Vec<u8> {
    idx(0x801, &[l.len() as u32], l)
}

fn parse(im: &[u8], lb: &[u8]) -> Result<Dataset, DataError> {
    Dataset::from_idx(("im", im), ("lb", lb))
}

#[test]
fn parses_raw_and_gzip_alike() {
    let (im, lb) = (images(3), labels(&[0, 9, 4]));
    let raw = parse(&im, &lb).unwrap();
    assert_eq!(raw, parse(&gz(&im), &gz(&lb)).unwrap());
    assert_eq!(raw.len(), 3);
    assert_eq!(raw.labels, vec![0, 9, 4]);
    assert_eq!(raw.images[784], (784 % 251) as u8);
    let sub = raw.subset(&[2, 0]).unwrap();
    assert_eq!(sub.labels, vec![4, 0]);
    assert_eq!(sub.images[..784], raw.images[2 * 784..3 * 784]);
}

#[test]
fn normalisation_maps_to_minus_one_one() {
    assert_eq!(normalise(0), -1.0);
    assert_eq!(normalise(255), 1.0);
    assert!(normalise(128).abs() < 0.01);
}

#[test]
fn truncated_file() {
    let mut im = images(2);
    im.truncate(im.len() - 10);
    let e = parse(&im, &labels(&[1, 2])).unwrap_err();
    assert_eq!(
        e,
        DataError::Truncated {
            file: "im".into(),
            expected: 16 + 2 * 784,
            found: 16 + 2 * 784 - 10
        }
    );
    assert!(e.to_string().contains("truncated"), "{e}");
    // Even the header can be cut short.
    assert!(matches!(
        parse(&im[..6], &labels(&[1])),
        Err(DataError::Truncated { .. })
    ));
}

#[test]
fn truncated_gzip_stream() {
    let g = gz(&images(2));
    let e = parse(&g[..g.len() / 2], &labels(&[1, 2])).unwrap_err();
    assert!(
        matches!(e, DataError::Gzip { ref file, .. } if file == "im"),
        "{e:?}"
    );
}

#[test]
fn wrong_magic_number() {
    let e = parse(&labels(&[1]), &labels(&[1])).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::BadMagic {
                found: 0x801,
                expected: 0x803,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("magic"), "{e}");
}

#[test]
fn count_mismatch() {
    let e = parse(&images(3), &labels(&[1, 2])).unwrap_err();
    assert_eq!(
        e,
        DataError::CountMismatch {
            images: 3,
            labels: 2
        }
    );
}

#[test]
fn wrong_image_size() {
    let im = idx(0x803, &[1, 32, 32], &[0; 1024]);
    assert_eq!(
        parse(&im, &labels(&[1])).unwrap_err(),
        DataError::WrongImageSize {
            rows: 32,
            cols: 32,
            side: 28
        }
    );
}

#[test]
fn trailing_bytes_and_bad_labels() {
    let mut im = images(1);
    im.push(0);
    assert!(matches!(
        parse(&im, &labels(&[1])),
        Err(DataError::TrailingBytes { .. })
    ));
    assert_eq!(
        parse(&images(1), &labels(&[10])).unwrap_err(),
        DataError::BadLabel {
            index: 0,
            label: 10
        }
    );
}

#[test]
fn absurd_dimensions_do_not_overflow() {
    let im = idx(0x803, &[u32::MAX, u32::MAX, u32::MAX], &[]);
    assert!(matches!(
        parse(&im, &labels(&[1])),
        Err(DataError::Truncated { .. })
    ));
}

fn read_batch(b: Batch) -> (Vec<f32>, Vec<u32>) {
    (
        block_on(read_f32(b.images)).unwrap(),
        block_on(read_classes(b.labels)).unwrap(),
    )
}

/// Every byte value, in every position of a packed word, including those whose word is negative
/// as an `i32` (byte 3 >= 128): the device path must unpack and normalise exactly as the host.
#[test]
fn device_batches_equal_host_batches_bit_for_bit() {
    let n = 7u32;
    let im = idx(
        0x803,
        &[n, 28, 28],
        &(0..n * 784)
            .map(|i| (i * 37 % 256) as u8)
            .collect::<Vec<_>>(),
    );
    let data = parse(&im, &labels(&[3, 1, 4, 1, 5, 9, 2])).unwrap();
    let dev = device::cpu();
    let on_device = DeviceDataset::upload(&data, &dev);
    assert_eq!(on_device.len(), 7);

    let picked = [6u32, 0, 3, 3];
    let host = data.batch(&picked, &dev).unwrap();
    let gathered = on_device.gather(on_device.indices(&picked).unwrap());
    let (hx, hy) = read_batch(host);
    let (gx, gy) = read_batch(gathered);
    assert_eq!(gy, vec![2, 3, 1, 1]);
    assert_eq!(hy, gy);
    assert_eq!(
        hx.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        gx.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    assert_eq!(gx[5], normalise(data.images[6 * 784 + 5]));

    let (rx, ry) = read_batch(on_device.range(2, 3).unwrap());
    assert_eq!(read_batch(data.batch(&[2, 3, 4], &dev).unwrap()), (rx, ry));

    // An epoch order on the device: batch i holds the indices epoch_batches gives on the host.
    let order = on_device.epoch_order(key(5), 3).unwrap();
    let host_order = epoch_batches(key(5), 7, 3).unwrap();
    assert_eq!(order.batches(), host_order.len());
    for (i, idx) in host_order.iter().enumerate() {
        let on = block_on(read_classes(order.batch_indices(i).unwrap())).unwrap();
        assert_eq!(&on, idx);
    }
}

#[test]
fn device_dataset_rejects_bad_indices_ranges_and_batches() {
    let data = parse(&images(3), &labels(&[0, 1, 2])).unwrap();
    let d = DeviceDataset::upload(&data, &device::cpu());
    assert_eq!(
        d.indices(&[0, 3]).unwrap_err(),
        DataError::IndexOutOfRange { index: 3, len: 3 }
    );
    assert!(matches!(
        d.range(2, 2),
        Err(DataError::RangeOutOfBounds { .. })
    ));
    assert!(matches!(
        d.range(0, 0),
        Err(DataError::RangeOutOfBounds { .. })
    ));
    assert!(matches!(
        d.range(usize::MAX, 2),
        Err(DataError::RangeOutOfBounds { .. })
    ));
    let order = d.epoch_order(key(0), 2).unwrap();
    assert_eq!(order.batches(), 1);
    assert_eq!(
        order.batch_indices(1).unwrap_err(),
        DataError::BatchOutOfRange {
            batch: 1,
            batches: 1
        }
    );
}

/// Dead neurons over a whole split, read in chunks (the last one partial), equal the same
/// analysis over all rows at once; and a unit killed by its bias is counted.
#[test]
fn dead_fraction_over_a_split_equals_one_pass_over_all_rows() {
    use actlab::activation::{Activation, Builtin};
    use actlab::analysis::{dead_fraction, dead_fraction_on, unit_max_abs};
    use actlab::init::{BiasInit, KernelInit};
    use actlab::mlp::{MlpConfig, Params};
    let n = 7u32;
    let im = idx(
        0x803,
        &[n, 28, 28],
        &(0..n * 784)
            .map(|i| (i * 91 % 256) as u8)
            .collect::<Vec<_>>(),
    );
    let data = parse(&im, &labels(&[3, 1, 4, 1, 5, 9, 2])).unwrap();
    let dev = device::cpu();
    let config = MlpConfig {
        input: 784,
        hidden: vec![6, 5],
        output: 2,
    };
    let init = Params::init(
        key(4),
        &config,
        KernelInit::TorchDefault,
        BiasInit::FanInUniform,
        &dev,
    )
    .unwrap();
    let mut host = block_on(init.to_host()).unwrap();
    host[0].bias[2] = -1000.0;
    let params = Params::from_host(&host, &dev);
    let on_device = DeviceDataset::upload(&data, &dev);
    let all = on_device.range(0, n as usize).unwrap();
    for activation in [Builtin::Relu, Builtin::Tanh].map(Activation::from) {
        let chunked = dead_fraction_on(&params, &on_device, &activation, 3).unwrap();
        let whole = dead_fraction(&unit_max_abs(&params, all.images.clone(), &activation));
        let read = |v: Vec<burn::tensor::Tensor<1>>| {
            v.into_iter()
                .map(|t| block_on(read_f32(t)).unwrap()[0])
                .collect::<Vec<_>>()
        };
        let (chunked, whole) = (read(chunked), read(whole));
        assert_eq!(chunked, whole, "{activation:?}");
        if activation.as_builtin() == Some(Builtin::Relu) {
            assert!(chunked[0] >= 1.0 / 6.0, "the unit with bias -1000 is dead");
        } else {
            assert_eq!(chunked[0], 0.0, "tanh(-1000) = -1 is not zero");
        }
    }
}
