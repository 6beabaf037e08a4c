# stillprof - a sampling profiler for Ruby that never sends a signal.
#
#   require "stillprof"            # Stillprof.run / start / stop / results
#   require "stillprof/stackprof"  # a StackProf module for stackprof users
require "stillprof/stillprof_ext"

module Stillprof
  VERSION = "0.1.0"
  # The stackprof version whose API and dump format Stillprof follows.
  STACKPROF_VERSION = "0.2.28"

  MUTEX = Mutex.new
  private_constant :MUTEX

  class << self
    # start(mode: :wall, interval: 1000, raw: false, aggregate: true,
    #       ignore_gc: false, metadata: {}, out: nil, threads: :all)
    def start(**opts)
      started = Native.start(opts)
      @out = opts[:out] if started
      started
    end

    def stop
      Native.stop
    end

    def running?
      Native.running?
    end

    def sample
      Native.sample
    end

    # The stackprof result Hash (nil while running or when nothing was
    # collected, and the second time).  With out (a path or an object
    # with to_io), writes it as Marshal and returns the IO, as stackprof.
    # format: (Stillprof only) "pprof", "speedscope", "collapsed",
    # "json", "html" (flame graph) or "stackprof": writes out (a path) in
    # that format and returns the path.  Needs raw: true and an extension
    # built with libstillprof (see README).
    def results(out = nil, format: nil)
      out ||= @out
      h = Native.results
      @out = nil
      return nil unless h
      return h unless out
      return write(h, out, format: format) if format && !%w[stackprof dump].include?(format.to_s)
      write_marshal(h, out)
    end

    # Write a stackprof result Hash (with :raw) to path; the format comes
    # from format: or the path's extension (.pb.gz, .speedscope.json,
    # .folded, .json, .html, else a stackprof dump).
    def write(results, path, format: nil)
      Native.write_profile(results, ::File.path(path), format&.to_s)
    end

    def run(**opts)
      raise LocalJumpError, "no block given" unless block_given?
      start(**opts)
      begin
        yield
      ensure
        stop
      end
      results
    end

    # Back-end used to trigger samples (see README).
    def backend
      Native.backend
    end

    private

    def write_marshal(h, out)
      if out.respond_to?(:to_io)
        io = out.to_io
        Marshal.dump(h, io)
        io.flush
        io
      else
        path = ::File.path(out) # TypeError for non-paths, as stackprof
        io = ::File.open(path, "wb")
        Marshal.dump(h, io)
        io.flush
        io
      end
    end
  end

  # A forked child stops profiling and keeps the data (stackprof does the
  # same); the sampling thread does not exist there.
  module ForkHook
    def _fork
      pid = super
      Stillprof::Native.after_fork if pid == 0
      pid
    end
  end
  Process.singleton_class.prepend(ForkHook) if Process.respond_to?(:_fork)
end
