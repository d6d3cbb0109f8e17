pub mod sdk_harness;
