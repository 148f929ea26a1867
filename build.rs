//! Compiles the gRPC contract and makes the binary find libtorch at run time.
use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // protoc comes from a crate, so a build needs no system protobuf compiler.
    std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("precis_descriptor.bin"))
        .compile_protos(&["proto/precis/v1/precis.proto"], &["proto"])?;
    println!("cargo:rerun-if-changed=proto");
    write_method_names(&out_dir)?;

    // torch-sys reports where it found libtorch (`links = "tch"` → DEP_TCH_LIBTORCH_LIB).
    // An rpath to that folder lets every binary, test and bench start without LD_LIBRARY_PATH;
    // the second, relative one serves an installed binary (`bin/precis` beside
    // `lib/precis/libtorch_cpu.so`, as in the container image), so the same build runs there.
    if let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}:$ORIGIN/../lib/precis");
        println!("cargo:rustc-env=PRECIS_LIBTORCH_LIB={lib_dir}");
        compile_libtorch_bridge(&PathBuf::from(lib_dir));
    }
    // Where scripts/setup-onnx put ONNX Runtime's library (env.sh exports it): the default the
    // onnxruntime embedding engines load, so a developer's binary needs no setting.
    println!("cargo:rerun-if-env-changed=PRECIS_ONNXRUNTIME_LIB");
    if let Ok(library) = std::env::var("PRECIS_ONNXRUNTIME_LIB") {
        println!("cargo:rustc-env=PRECIS_ONNXRUNTIME_LIB={library}");
    }
    Ok(())
}

/// The C++ bridges to libtorch operators tch has no binding for (src/runtime/*.cpp) against
/// the libtorch torch-sys links (its headers sit beside `lib/`), with the C++ ABI torch-sys
/// builds its own wrapper with.
fn compile_libtorch_bridge(lib_dir: &std::path::Path) {
    let sources = [
        "src/runtime/onednn_linear.cpp",
        "src/runtime/int8_linear.cpp",
    ];
    for source in sources {
        println!("cargo:rerun-if-changed={source}");
    }
    println!("cargo:rerun-if-changed=src/runtime/bridge_error.h");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    let root = lib_dir.parent().unwrap_or(lib_dir);
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into());
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .include(root.join("include"))
        .include(root.join("include/torch/csrc/api/include"))
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .flag("-DGLOG_USE_GLOG_EXPORT")
        .warnings(false)
        .files(sources)
        .compile("precis_libtorch_bridge");
    // The bridges call into libtorch's dispatcher: link those libraries after it.
    println!("cargo:rustc-link-lib=dylib=torch_cpu");
    println!("cargo:rustc-link-lib=dylib=c10");
}

/// The service's name and its methods' names, read from the compiled descriptor set, so code
/// that labels calls by method (metrics, admission) never keeps a list of its own.
fn write_method_names(out_dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let bytes = std::fs::read(out_dir.join("precis_descriptor.bin"))?;
    let descriptors = prost_types::FileDescriptorSet::decode(bytes.as_slice())?;
    let mut code = String::new();
    for file in &descriptors.file {
        for service in &file.service {
            let name = format!("{}.{}", file.package(), service.name());
            let methods: Vec<String> = service
                .method
                .iter()
                .map(|method| format!("{:?}", method.name()))
                .collect();
            let constant = service.name().to_ascii_uppercase();
            code.push_str(&format!(
                "/// `{name}`, as in the .proto.\npub const {constant}_SERVICE: &str = {name:?};\n\
                 /// The methods of `{name}`, in .proto order.\n\
                 pub const {constant}_METHODS: &[&str] = &[{}];\n",
                methods.join(", ")
            ));
        }
    }
    std::fs::write(out_dir.join("service_names.rs"), code)?;
    Ok(())
}
