# extconf.rb - builds stillprof/stillprof_ext.so.  Features are detected
# with have_func, never from the Ruby version string.
require "mkmf"

abort "stillprof needs Linux (timerfd, eventfd)" unless RUBY_PLATFORM.include?("linux")

$CFLAGS << " -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Werror=implicit-function-declaration -fvisibility=hidden"
have_header("sys/timerfd.h") or abort "sys/timerfd.h missing"
have_header("sys/eventfd.h") or abort "sys/eventfd.h missing"
have_library("pthread")
# Ruby >= 3.3: preregister once, trigger from any thread.
have_func("rb_postponed_job_preregister", "ruby/debug.h")
have_func("rb_postponed_job_trigger", "ruby/debug.h")
unless $defs.include?("-DHAVE_RB_POSTPONED_JOB_PREREGISTER")
  have_func("rb_postponed_job_register_one", "ruby/debug.h") or
    abort "no postponed-job API in this Ruby"
end
have_func("rb_profile_thread_frames", "ruby/debug.h")
# Ruby >= 3.2: GVL hooks give each sample's GVL state; >= 3.3 names the
# thread in the event data (hooks may run on another native thread).
if have_func("rb_internal_thread_add_event_hook", "ruby/thread.h")
  have_struct_member("rb_internal_thread_event_data_t", "thread", "ruby/thread.h")
end

# Optional: libstillprof for pprof/speedscope/HTML output (Stillprof.write).
# In the source tree: its .libs after `sh scripts/build.sh`; installed:
# pkg-config stillprof; or STILLPROF_INCDIR/STILLPROF_LIBDIR.
root = File.expand_path("../../../..", __dir__)
inc = ENV["STILLPROF_INCDIR"] || File.join(root, "profiler")
lib = ENV["STILLPROF_LIBDIR"] || File.join(root, ".libs")
if ENV["STILLPROF_NO_LIB"].nil?
  if File.exist?(File.join(inc, "stillprof.h")) && File.exist?(File.join(lib, "libstillprof.so"))
    $INCFLAGS << " -I#{inc}"
    $LDFLAGS << " -L#{lib} -Wl,-rpath,#{lib}"
  else
    pkg_config("stillprof")
  end
  have_library("stillprof", "stillprof_profile_new", "stillprof.h") &&
    have_func("stillprof_profile_new", "stillprof.h")
end

create_makefile("stillprof/stillprof_ext")
