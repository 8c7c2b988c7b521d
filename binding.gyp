{
  "variables": {
    "m3d_sanitize%": ""
  },
  "targets": [
    {
      "target_name": "metric3d",
      "sources": [
        "native/addon/addon.cpp",
        "native/addon/convert.cpp",
        "native/addon/doctor.cpp",
        "native/addon/errors.cpp",
        "native/addon/tensorrt.cpp",
        "native/addon/workers.cpp",
        "native/core/src/backproject.cpp",
        "native/core/src/buffer.cpp",
        "native/core/src/gpu_stub.cpp",
        "native/core/src/image.cpp",
        "native/core/src/outputs.cpp",
        "native/core/src/parallel.cpp",
        "native/core/src/postprocess.cpp",
        "native/core/src/preprocess.cpp",
        "native/core/src/simd.cpp",
        "native/core/src/staging.cpp",
        "native/core/src/trt/runtime.cpp"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/core/include"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "M3D_VERSION=\"<!(node -p \"require('./package.json').version\")\""
      ],
      "conditions": [
        ["OS!='win'", { "libraries": ["-ldl"] }],
        ["m3d_sanitize!=''", {
          "cflags_cc+": ["-fsanitize=<(m3d_sanitize)", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g"],
          "ldflags+": ["-fsanitize=<(m3d_sanitize)"],
          "xcode_settings": {
            "OTHER_CPLUSPLUSFLAGS+": ["-fsanitize=<(m3d_sanitize)", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g"],
            "OTHER_LDFLAGS+": ["-fsanitize=<(m3d_sanitize)"]
          }
        }]
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-ffp-contract=off"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "10.15",
        "OTHER_CPLUSPLUSFLAGS": ["-ffp-contract=off"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17"] }
      }
    }
  ]
}
