//! Readers for weights saved by other frameworks (currently PyTorch's legacy `.pth`).

pub mod legacy_pth;
