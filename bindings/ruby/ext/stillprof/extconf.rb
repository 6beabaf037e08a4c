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
have_func("rb_internal_thread_add_event_hook", "ruby/thread.h")

create_makefile("stillprof/stillprof_ext")
