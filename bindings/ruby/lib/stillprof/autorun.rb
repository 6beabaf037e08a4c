# ruby -r stillprof/autorun app.rb: profile the whole program.
# Environment: STILLPROF_MODE (wall), STILLPROF_INTERVAL (µs, 1000),
# STILLPROF_RAW (1 = raw), STILLPROF_IGNORE_GC, STILLPROF_THREADS (all |
# current), STILLPROF_OUT (dump path; default a temporary stillprof*.dump).
# The STACKPROF_* names of stackprof's autorun are honoured as well.
require "stillprof"

module Stillprof
  module Autorun
    def self.env(name)
      v = ENV["STILLPROF_#{name}"]
      v = ENV["STACKPROF_#{name}"] if v.nil? || v.empty?
      v.nil? || v.empty? ? nil : v
    end

    def self.truthy(v)
      !v.nil? && !%w[0 false no].include?(v.downcase)
    end

    opts = { mode: (env("MODE") || "wall").to_sym,
             raw: truthy(env("RAW")), ignore_gc: truthy(env("IGNORE_GC")) }
    opts[:interval] = Integer(env("INTERVAL")) if env("INTERVAL")
    opts[:threads] = env("THREADS").to_sym if env("THREADS")
    OUT = env("OUT") || begin
      require "tempfile"
      Tempfile.new(["stillprof", ".dump"]).path
    end
    PID = Process.pid
    Stillprof.start(**opts)
    at_exit do
      if Process.pid == PID
        Stillprof.stop
        io = Stillprof.results(OUT)
        io.close if io.respond_to?(:close)
        $stderr.puts "Stillprof results dumped at: #{OUT}"
      end
    end
  end
end
