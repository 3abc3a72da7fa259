#!/usr/bin/env bash
# The package test (ctest: common_package_examples, label integration; ./dev test runs it):
# installs the library of a build tree into a fresh prefix, builds examples/ against that prefix
# alone (CMake package, then the pkg-config file), runs the mocks' test and the examples against
# the broker of ./dev test ($CPPBLOG_TEST_AMQP_URL).
#
#   examples/run_examples.sh BUILD_DIR [CMAKE ARGS FOR THE EXAMPLES...]
#
# The examples' build directory stays in BUILD_DIR/examples-package (with ccache, a second run
# recompiles nothing); the prefix is made anew each time.
set -euo pipefail

build=$(cd "$1" && pwd)
shift
examples=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$build/examples-package
prefix=$work/prefix
t0=$SECONDS
step() { printf 'run_examples: %s (%d s)\n' "$*" $((SECONDS - t0)); }

rm -rf "$prefix"
cmake --install "$build" --prefix "$prefix" --component cppblog-dev >/dev/null
step "installed into $prefix"

launcher=() ccache=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache) ccache=(ccache)
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f "$work/build/CMakeCache.txt" ]; then
  cmake -S "$examples" -B "$work/build" "${generator[@]}" "${launcher[@]}" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_COMPILE_WARNING_AS_ERROR=ON "$@" >/dev/null
fi
cmake --build "$work/build" -j 2
step "built examples/ against the installed package"

# pkg-config: one program, compiled and linked with nothing else.
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# shellcheck disable=SC2046
"${ccache[@]}" "${CXX:-c++}" -std=c++20 -o "$work/pkg_config_check" "$examples/pkg_config_check.cpp" \
  $(pkg-config --cflags --libs cppblog)
"$work/pkg_config_check"
step "built and ran a program from pkg-config --cflags --libs cppblog"

if [ -x "$work/build/order_notifier_test" ]; then
  "$work/build/order_notifier_test" --gtest_brief=1
  step "ran the mocks' test"
fi

if [ -z "${CPPBLOG_TEST_AMQP_URL:-}" ]; then
  echo "run_examples: skipped running the examples: CPPBLOG_TEST_AMQP_URL is not set (./dev test sets it to its broker)"
  exit 77
fi
for example in confirmed_publisher work_queue_consumer topic_subscriber outbox_orders payment_service; do
  "$work/build/$example" "$CPPBLOG_TEST_AMQP_URL"
  step "$example passed"
done
