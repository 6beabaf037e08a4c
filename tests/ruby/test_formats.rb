# Stillprof.write / results(format:): a Ruby profile in the other output
# formats through libstillprof's public profile API.  Skips when the
# extension was built without libstillprof, unless STILLPROF_EXPECT_LIB=1.
require "minitest/autorun"
require "json"
require "zlib"
require "tmpdir"
require "stillprof/stackprof"

class TestFormats < Minitest::Test
  def profile
    StackProf.run(mode: :wall, interval: 1000, raw: true) do
      x = 0
      200_000.times { |i| x += i }
      sleep 0.05
    end
  end

  def setup
    @dir = Dir.mktmpdir("stillprof-formats")
    Stillprof.write({ frames: {}, raw: [] }, File.join(@dir, "probe.folded"))
  rescue NotImplementedError
    flunk "extension built without libstillprof" if ENV["STILLPROF_EXPECT_LIB"] == "1"
    skip "extension built without libstillprof"
  end

  def teardown
    FileUtils.rm_rf(@dir) if @dir
  end

  def test_every_format
    r = profile
    folded = Stillprof.write(r, File.join(@dir, "p.folded"))
    text = File.read(folded)
    main_tid = r[:metadata][:threads].find { |t| t[:name] == "main" }[:tid]
    assert_match(/^main-#{main_tid};.*Integer#times.* \d+$/, text)
    assert_match(/sleep \d+$/, text)
    total = text.lines.sum { |l| l.split.last.to_i }
    assert_equal r[:samples], total

    pb = Stillprof.write(r, File.join(@dir, "p.pb.gz"))
    raw = Zlib::GzipReader.open(pb, &:read)
    assert_includes raw, "Integer#times"

    sc = JSON.parse(File.read(Stillprof.write(r, File.join(@dir, "p.speedscope.json"))))
    assert_equal "https://www.speedscope.app/file-format-schema.json", sc["$schema"]

    html = File.read(Stillprof.write(r, File.join(@dir, "p.html")))
    assert_includes html, "<html"
    assert_includes html, "Integer#times"

    dump = Marshal.load(File.binread(Stillprof.write(r, File.join(@dir, "p.dump"))))
    assert_equal r[:samples], dump[:samples]

    assert_raises(ArgumentError) { Stillprof.write(r, File.join(@dir, "x"), format: "nope") }
    assert_raises(ArgumentError) { Stillprof.write({ frames: {} }, File.join(@dir, "y.pb.gz")) }
    assert_raises(IOError) { Stillprof.write(r, File.join(@dir, "no/dir/p.pb.gz")) }
  end

  def test_results_format
    Stillprof.start(mode: :wall, raw: true)
    # at least 30 ms of work: a fixed loop count can end before the
    # first tick on a loaded machine
    t = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 0.03
    x = 0
    x += 1 while Process.clock_gettime(Process::CLOCK_MONOTONIC) < t
    Stillprof.stop
    path = Stillprof.results(File.join(@dir, "r.pb.gz"), format: :pprof)
    assert_equal File.join(@dir, "r.pb.gz"), path
    assert File.size(path) > 20
    assert_nil Stillprof.results
  end
end
